"""Reference for Q3 (transformer circuits: QK and OV circuits).

Conventions follow the homework (student-api.md, "Matrix conventions"): the
residual stream ``X`` is ``d_model x n_ctx`` (one column per token),
``A[i, j]`` is the weight from destination ``i`` to source ``j`` and a head
writes ``W_OV @ X @ A.T``.

Numpy float64 semantics: array arguments are converted with
``np.asarray(..., dtype=float64)`` (numpy arrays, nested lists and CPU torch
tensors all work) and numpy arrays are returned.

``ANSWERS`` and the sympy symbols ``d_head`` / ``d_model`` are built lazily on
first access (module ``__getattr__``), so importing this module does not
import sympy.
"""

import functools

import numpy as np

__all__ = [
    "zero_layer_logits",
    "concat_output_matrix",
    "multihead_sum",
    "multihead_concat",
    "qk_matrix",
    "attention_scores",
    "ov_matrix",
    "attention_mix",
    "one_layer_residual",
    "read_write_subspaces",
    "answers",
    "ANSWERS",
    "d_head",
    "d_model",
    # known mistakes
    "qk_matrix_transposed",
    "attention_mix_untransposed",
    "attention_scores_transposed",
    "KNOWN_MISTAKES",
]


def _f64(a):
    return np.asarray(a, dtype=np.float64)


# ---------------------------------------------------------------------------
# Functions of the student API
# ---------------------------------------------------------------------------

def zero_layer_logits(W_E, W_U, T):
    """``L = W_U @ W_E @ T`` (``n_vocab x n_ctx``)."""
    return _f64(W_U) @ _f64(W_E) @ _f64(T)


def concat_output_matrix(W_O_heads):
    """Concatenate ``H`` matrices ``d_model x d_head`` side by side to
    ``W_O^H`` of shape ``d_model x (H*d_head)``."""
    return np.hstack([_f64(W) for W in W_O_heads])


def multihead_sum(r_heads, W_O_heads):
    """``sum_h W_O_heads[h] @ r_heads[h]`` (additive view of multi-head
    attention)."""
    r_heads = list(r_heads)
    W_O_heads = list(W_O_heads)
    if len(r_heads) != len(W_O_heads):
        raise ValueError(
            f"{len(r_heads)} head results but {len(W_O_heads)} output matrices"
        )
    if not r_heads:
        raise ValueError("at least one head is needed")
    out = _f64(W_O_heads[0]) @ _f64(r_heads[0])
    for W_O, r in zip(W_O_heads[1:], r_heads[1:]):
        out = out + _f64(W_O) @ _f64(r)
    return out


def multihead_concat(r_heads, W_O_H):
    """``W_O_H @ vstack(r_heads)`` (concatenation view)."""
    return _f64(W_O_H) @ np.vstack([_f64(r) for r in r_heads])


def qk_matrix(W_Q, W_K):
    """``W_QK = W_Q.T @ W_K`` (``d_model x d_model``), so that the score from
    destination ``x_i`` to source ``x_j`` is ``x_i @ W_QK @ x_j``."""
    return _f64(W_Q).T @ _f64(W_K)


def attention_scores(X, W_QK):
    """``S[i, j] = X[:, i] @ W_QK @ X[:, j]`` (``n_ctx x n_ctx``)."""
    X = _f64(X)
    return X.T @ _f64(W_QK) @ X


def ov_matrix(W_O, W_V):
    """``W_OV = W_O @ W_V`` (``d_model x d_model``)."""
    return _f64(W_O) @ _f64(W_V)


def attention_mix(X, A):
    """Column ``i`` is ``sum_j A[i, j] X[:, j]``, i.e. ``X @ A.T``."""
    return _f64(X) @ _f64(A).T


def one_layer_residual(X0, W_OVs, As):
    """``X0 + sum_h W_OVs[h] @ X0 @ As[h].T`` (attention-only layer)."""
    X0 = _f64(X0)
    W_OVs = list(W_OVs)
    As = list(As)
    if len(W_OVs) != len(As):
        raise ValueError(f"{len(W_OVs)} OV matrices but {len(As)} attention patterns")
    out = X0.copy()
    for W_OV, A in zip(W_OVs, As):
        out = out + _f64(W_OV) @ X0 @ _f64(A).T
    return out


def read_write_subspaces(W_OV, tol=1e-9):
    """Compact SVD of ``W_OV`` keeping the singular values ``> tol * sigma_max``.

    Returns ``(V, sigma, U)`` with ``V`` (``d_in x r``, orthonormal columns:
    the read basis), ``sigma`` (``r``, descending) and ``U`` (``d_out x r``,
    orthonormal columns: the write basis), so that
    ``W_OV @ x ~= U @ diag(sigma) @ V.T @ x``.  A zero matrix gives ``r = 0``.

    Signs are made deterministic: each column of ``U`` has its entry of
    largest magnitude positive (the matching column of ``V`` is flipped with
    it, which leaves the product unchanged).
    """
    W = _f64(W_OV)
    if W.ndim != 2:
        raise ValueError(f"W_OV must be a matrix, got shape {W.shape}")
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    if s.size == 0:
        r = 0
    else:
        r = int(np.count_nonzero(s > tol * s[0]))
    U = U[:, :r].copy()
    V = Vt[:r, :].T.copy()
    sigma = s[:r].copy()
    if r:
        pivot = np.argmax(np.abs(U), axis=0)
        signs = np.sign(U[pivot, np.arange(r)])
        signs[signs == 0] = 1.0
        U *= signs
        V *= signs
    return V, sigma, U


# ---------------------------------------------------------------------------
# ANSWERS (built lazily; sympy is imported only here)
# ---------------------------------------------------------------------------

_SYMBOL_NAMES = ("d_head", "d_model")


@functools.lru_cache(maxsize=None)
def _symbols():
    import sympy

    return {name: sympy.Symbol(name, positive=True) for name in _SYMBOL_NAMES}


@functools.lru_cache(maxsize=None)
def _rank_bound():
    """rank(W_O @ W_V) <= min(rank W_O, rank W_V), and a ``p x q`` matrix has
    rank <= min(p, q); W_O is d_model x d_head, W_V is d_head x d_model.
    The homework's regime is d_head <= d_model: substitute
    d_model = d_head + delta (delta >= 0) and let sympy simplify the Min."""
    import sympy

    sym = _symbols()
    dh, dm = sym["d_head"], sym["d_model"]

    def matrix_rank_bound(rows, cols):
        return sympy.Min(rows, cols)

    bound = sympy.Min(matrix_rank_bound(dm, dh), matrix_rank_bound(dh, dm))
    delta = sympy.Symbol("delta", nonnegative=True)
    bound = sympy.simplify(bound.subs(dm, dh + delta))
    bound = sympy.simplify(bound.subs(delta, dm - dh))
    if bound.free_symbols - {dh, dm}:  # pragma: no cover - sanity
        raise RuntimeError(f"unexpected rank bound {bound}")
    return bound


# What each toy W_QK (d_model = 3) looks for: the score is x_i^T W_QK x_j.
#   identity      -> x_i . x_j: tokens similar in every dimension
#   e11           -> x_i[0] * x_j[0]: only dimension 1 matters
#   diag(1,0,-1)  -> x_i[0] x_j[0] - x_i[2] x_j[2]: match dim 1, oppose dim 3
#   -identity     -> -x_i . x_j: anti-aligned tokens
_Q3C = {
    "identity": "similar_all_dims",
    "e11": "dim1_only",
    "diag_1_0_-1": "match_dim1_oppose_dim3",
    "neg_identity": "anti_aligned",
}


@functools.lru_cache(maxsize=None)
def answers():
    """The accepted ``ANSWERS`` of Q3 (cached; use ``ANSWERS`` for a fresh copy)."""
    return {
        "q3c": dict(_Q3C),
        "q3e_rank_bound": _rank_bound(),
    }


def _fresh_copy(d):
    return {k: dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v
            for k, v in d.items()}


def __getattr__(name):
    if name == "ANSWERS":  # a fresh copy on every access, like the other modules
        return _fresh_copy(answers())
    if name in _SYMBOL_NAMES:
        value = _symbols()[name]
        globals()[name] = value  # immutable: cache as a plain attribute
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {"ANSWERS", *_SYMBOL_NAMES})


# ---------------------------------------------------------------------------
# Known mistakes (the commonest wrong answers, for misconception hints).
# Each takes the same arguments as the function it imitates.
# ---------------------------------------------------------------------------

def qk_matrix_transposed(W_Q, W_K):
    """Mistake: ``W_K.T @ W_Q`` (the transpose of ``W_QK``: queries and keys
    swapped)."""
    return _f64(W_K).T @ _f64(W_Q)


def attention_mix_untransposed(X, A):
    """Mistake: ``X @ A`` (column ``i`` mixes with the weights of source
    ``i`` instead of destination ``i``)."""
    return _f64(X) @ _f64(A)


def attention_scores_transposed(X, W_QK):
    """Mistake: ``S.T`` (``S[i, j] = X[:, j] @ W_QK @ X[:, i]``)."""
    X = _f64(X)
    return (X.T @ _f64(W_QK) @ X).T


KNOWN_MISTAKES = {
    "qk_matrix": (
        (qk_matrix_transposed, "W_K.T @ W_Q is the transpose of W_QK = W_Q.T @ W_K"),
    ),
    "attention_mix": (
        (attention_mix_untransposed, "X @ A uses A's columns; the mix is X @ A.T"),
    ),
    "attention_scores": (
        (attention_scores_transposed,
         "the result is transposed: S[i, j] = X[:, i] @ W_QK @ X[:, j] (i is the destination)"),
    ),
}
