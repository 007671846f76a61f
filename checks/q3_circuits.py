"""Q3 Transformer circuits: X is d_model x n_ctx (one column per token).

Shapes are drawn by hypothesis (small, and pairwise different so that a
transpose cannot hide behind a square matrix); matrices come from seeds.
The executable claims of the homework are checked on the submission's own
functions: a(ii) positions are independent (permutation), b(i) concatenation
equals addition, d(i) the mix is a convex combination, d(iii) a head writes
into Col(W_OV), e(ii)-(iii) the compact SVD reconstructs W_OV, reads from
span(V) and writes into span(U). Singular vectors are defined only up to
sign (and rotation for equal singular values), so read_write_subspaces is
judged through subspaces and reconstructions, never through raw entries.
"""
import numpy as np

from hw11grader.authoring import check, expect, given, st
from hw11grader.authoring import Failed, Missing
from reference import q3_circuits as ref

from ._common import described, matrices, seeds


# The answer key's rank bound, simplified by sympy (which it imports), derived while the
# submission's process starts (runner._while_loading)
warm_up = ref.answers


HINTS = {name: dict((text, fn) for fn, text in rows) for name, rows in ref.KNOWN_MISTAKES.items()}


def _mistakes(name, *args):
    """{hint: the value that mistake gives} for the reference's known mistakes of ``name``."""
    return {text: fn(*args) for text, fn in HINTS.get(name, {}).items()}


def _distinct(n, low=2, high=6):
    """``n`` pairwise different sizes (non-square, no accidental transposes)."""
    return st.lists(st.integers(low, high), min_size=n, max_size=n, unique=True)


def _array(value, what, where):
    arr, rtol = expect.as_array(value, what=f"{where}: {what}")
    return arr, rtol


def _close(*, actual, expected, what, where, rtol=None, mistakes=None):
    """``expect.close``, but entries near zero may differ by ``rtol * max|expected|``.

    Matrix products computed in float32 lose absolute (not relative) precision
    in entries that cancel; ``expect.close`` alone would reject them.
    """
    try:
        expect.close(actual=actual, expected=expected, what=what, where=where, rtol=rtol, mistakes=mistakes)
    except Failed as first:
        try:
            got, own = expect.as_array(actual, what=what)
        except Failed:
            raise first from None
        exp = np.asarray(expected, dtype=np.float64)
        tol = rtol if rtol is not None else own
        if (got.shape == exp.shape and exp.size and np.all(np.isfinite(got))
                and np.all(np.abs(got - exp) <= tol * np.abs(exp) + tol * float(np.max(np.abs(exp))))):
            return
        raise first from None


def _small(residual, *, scale, rtol, what, where, hint=""):
    """``residual`` must be ~0 relative to ``scale`` (10 x the result's precision)."""
    residual = np.asarray(residual, dtype=np.float64)
    size = float(np.max(np.abs(residual))) if residual.size else 0.0
    limit = 10 * rtol * max(scale, 1e-12)
    if not np.isfinite(size) or size > limit:
        msg = (f"{where}: {what}: largest entry {expect.g(size)}, should be 0 "
               f"(tolerance {expect.g(limit)})")
        raise Failed(msg + (f"\n    Hint: {hint}" if hint else ""))


def _row_stochastic(seed, n, causal=True):
    """Softmax of seeded scores, rows sum to 1; causal: A[i, j] = 0 for j > i."""
    (S,) = matrices(seed, (n, n))
    if causal:
        S = np.where(np.tril(np.ones((n, n), dtype=bool)), S, -np.inf)
    E = np.exp(S - S.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def _one_hot(seed, n_vocab, n_ctx):
    tokens = np.random.default_rng(seed + 1).integers(0, n_vocab, size=n_ctx)
    T = np.zeros((n_vocab, n_ctx))
    T[tokens, np.arange(n_ctx)] = 1.0
    return T, tokens


# ---------------------------------------------------------------- (a) zero-layer model

@check("q3.zero_layer_logits.matches_reference", uses="zero_layer_logits")
@given(sizes=_distinct(3), seed=seeds())
def zero_layer_logits_matches_reference(sub, sizes, seed):
    """L = W_U @ W_E @ T (n_vocab x n_ctx) for drawn d_model, n_vocab, n_ctx."""
    d_model, n_vocab, n_ctx = sizes
    W_E, W_U = matrices(seed, (d_model, n_vocab), (n_vocab, d_model))
    T, tokens = _one_hot(seed, n_vocab, n_ctx)
    where = (f"zero_layer_logits(W_E, W_U, T) with d_model={d_model}, n_vocab={n_vocab}, n_ctx={n_ctx}, "
             f"seed={seed}, tokens={list(map(int, tokens))}, {described(W_E=W_E, W_U=W_U)}")
    _close(actual=sub.zero_layer_logits(W_E, W_U, T), expected=ref.zero_layer_logits(W_E, W_U, T),
           what="L", where=where)


@check("q3.zero_layer_logits.permutation", uses="zero_layer_logits")
@given(sizes=_distinct(3), seed=seeds())
def zero_layer_logits_permutation(sub, sizes, seed):
    """Each position depends only on its own token: permuting T's columns permutes L's columns."""
    d_model, n_vocab, n_ctx = sizes
    W_E, W_U = matrices(seed, (d_model, n_vocab), (n_vocab, d_model))
    T, tokens = _one_hot(seed, n_vocab, n_ctx)
    perm = np.random.default_rng(seed + 2).permutation(n_ctx)
    if np.all(perm == np.arange(n_ctx)):
        perm = np.roll(perm, 1)
    where = (f"zero_layer_logits with d_model={d_model}, n_vocab={n_vocab}, n_ctx={n_ctx}, seed={seed}, "
             f"tokens={list(map(int, tokens))}, perm={list(map(int, perm))}")
    L, _ = _array(sub.zero_layer_logits(W_E, W_U, T), "zero_layer_logits(W_E, W_U, T)", where)
    if L.shape != (n_vocab, n_ctx):
        raise Failed(f"{where}: zero_layer_logits(W_E, W_U, T) has shape {L.shape}, expected {(n_vocab, n_ctx)}")
    try:
        _close(actual=sub.zero_layer_logits(W_E, W_U, T[:, perm]), expected=L[:, perm],
               what="zero_layer_logits(W_E, W_U, T[:, perm]) compared with zero_layer_logits(W_E, W_U, T)[:, perm]",
               where=where)
    except Failed as e:
        raise Failed(e.message + "\n    Each position's logits should depend only on its own token "
                     "(a zero-layer model is a bigram lookup): the same matrix W_U @ W_E maps every column.") from None


# ---------------------------------------------------------------- (b) concatenation = addition

def _heads(seed, H, d_head, d_model, n_ctx):
    mats = matrices(seed, *([(d_model, d_head)] * H + [(d_head, n_ctx)] * H))
    return mats[:H], mats[H:]


REVERSED = "the heads are in reverse order: W_O^H = [W_O^1 ... W_O^H], head 1 first."
VSTACK = "W_O^H puts the heads side by side (d_model x (H*d_head), torch.cat(..., dim=1)), not on top of each other."


@check("q3.concat_output_matrix.matches_reference", uses="concat_output_matrix")
@given(H=st.integers(2, 4), sizes=_distinct(2), seed=seeds())
def concat_output_matrix_matches_reference(sub, H, sizes, seed):
    """W_O^H = [W_O^1 ... W_O^H] (d_model x H*d_head), heads side by side in order."""
    d_head, d_model = sizes
    W_O, _ = _heads(seed, H, d_head, d_model, 1)
    where = f"concat_output_matrix(W_O_heads) with H={H}, d_head={d_head}, d_model={d_model}, seed={seed}"
    _close(actual=sub.concat_output_matrix(W_O), expected=ref.concat_output_matrix(W_O), what="W_O_H",
           where=where, mistakes={REVERSED: np.hstack(W_O[::-1]), VSTACK: np.vstack(W_O)})


@check("q3.multihead_sum.matches_reference", uses="multihead_sum")
@given(H=st.integers(2, 4), sizes=_distinct(3), seed=seeds())
def multihead_sum_matches_reference(sub, H, sizes, seed):
    """sum_h W_O_heads[h] @ r_heads[h] (d_model x n_ctx)."""
    d_head, d_model, n_ctx = sizes
    W_O, r = _heads(seed, H, d_head, d_model, n_ctx)
    where = f"multihead_sum(r_heads, W_O_heads) with H={H}, d_head={d_head}, d_model={d_model}, n_ctx={n_ctx}, seed={seed}"
    _close(actual=sub.multihead_sum(r, W_O), expected=ref.multihead_sum(r, W_O), what="the sum", where=where,
           mistakes={"add every head's W_O_heads[h] @ r_heads[h], not only the last one.": W_O[-1] @ r[-1]})


@check("q3.multihead_concat.matches_reference", uses="multihead_concat")
@given(H=st.integers(2, 4), sizes=_distinct(3), seed=seeds())
def multihead_concat_matches_reference(sub, H, sizes, seed):
    """W_O_H @ vstack(r_heads) (d_model x n_ctx), with a drawn W_O_H."""
    d_head, d_model, n_ctx = sizes
    _, r = _heads(seed, H, d_head, d_model, n_ctx)
    (W_O_H,) = matrices(seed + 1, (d_model, H * d_head))
    where = (f"multihead_concat(r_heads, W_O_H) with H={H}, d_head={d_head}, d_model={d_model}, n_ctx={n_ctx}, "
             f"seed={seed}")
    _close(actual=sub.multihead_concat(r, W_O_H), expected=ref.multihead_concat(r, W_O_H), what="the result",
           where=where)


# ---------------------------------------------------------------- (c) QK circuit

def _qk_shapes():
    """(d_head, d_model, n_ctx): pairwise different, d_head < d_model."""
    return _distinct(3).map(lambda s: (min(s[0], s[1]), max(s[0], s[1]), s[2]))


@check("q3.qk_matrix.matches_reference", uses="qk_matrix")
@given(sizes=_qk_shapes(), seed=seeds())
def qk_matrix_matches_reference(sub, sizes, seed):
    """W_QK = W_Q.T @ W_K (d_model x d_model), so that the score is x_i @ W_QK @ x_j."""
    d_head, d_model, _ = sizes
    W_Q, W_K = matrices(seed, (d_head, d_model), (d_head, d_model))
    where = f"qk_matrix(W_Q, W_K) with d_head={d_head}, d_model={d_model}, seed={seed} ({described(W_Q=W_Q, W_K=W_K)})"
    mistakes = _mistakes("qk_matrix", W_Q, W_K)
    mistakes["W_QK is d_model x d_model: W_Q.T @ W_K (W_Q @ W_K.T is d_head x d_head)."] = W_Q @ W_K.T
    _close(actual=sub.qk_matrix(W_Q, W_K), expected=ref.qk_matrix(W_Q, W_K), what="W_QK", where=where,
           mistakes=mistakes)


@check("q3.attention_scores.bilinear_form", uses="attention_scores")
@given(sizes=_qk_shapes(), seed=seeds())
def attention_scores_bilinear_form(sub, sizes, seed):
    """S[i, j] == (W_Q x_i) . (W_K x_j) with W_QK = W_Q.T @ W_K; i is the destination."""
    d_head, d_model, n_ctx = sizes
    W_Q, W_K, X = matrices(seed, (d_head, d_model), (d_head, d_model), (d_model, n_ctx))
    W_QK = ref.qk_matrix(W_Q, W_K)
    expected = np.array([[(W_Q @ X[:, i]) @ (W_K @ X[:, j]) for j in range(n_ctx)] for i in range(n_ctx)])
    where = (f"attention_scores(X, W_QK) with W_QK = W_Q.T @ W_K, d_head={d_head}, d_model={d_model}, "
             f"n_ctx={n_ctx}, seed={seed}, {described(W_Q=W_Q, W_K=W_K, X=X)} "
             "(S[i, j] should be (W_Q @ X[:, i]) . (W_K @ X[:, j]))")
    _close(actual=sub.attention_scores(X, W_QK), expected=expected, what="S", where=where,
           mistakes=_mistakes("attention_scores", X, W_QK))


# ---------------------------------------------------------------- (d) OV circuit

@check("q3.ov_matrix.matches_reference", uses="ov_matrix")
@given(sizes=_qk_shapes(), seed=seeds())
def ov_matrix_matches_reference(sub, sizes, seed):
    """W_OV = W_O @ W_V (d_model x d_model)."""
    d_head, d_model, _ = sizes
    W_O, W_V = matrices(seed, (d_model, d_head), (d_head, d_model))
    where = f"ov_matrix(W_O, W_V) with d_head={d_head}, d_model={d_model}, seed={seed} ({described(W_O=W_O, W_V=W_V)})"
    _close(actual=sub.ov_matrix(W_O, W_V), expected=ref.ov_matrix(W_O, W_V), what="W_OV", where=where,
           mistakes={"W_OV = W_O @ W_V (d_model x d_model); this is its transpose.": (W_O @ W_V).T,
                     "W_OV = W_O @ W_V (d_model x d_model): first W_V reads, then W_O writes.": W_V @ W_O})


@check("q3.attention_mix.matches_reference", uses="attention_mix")
@given(sizes=_distinct(2), seed=seeds())
def attention_mix_matches_reference(sub, sizes, seed):
    """M = X @ A.T (column i is sum_j A[i, j] X[:, j]) for a general, non-symmetric A."""
    d_model, n_ctx = sizes
    X, A = matrices(seed, (d_model, n_ctx), (n_ctx, n_ctx))
    where = f"attention_mix(X, A) with d_model={d_model}, n_ctx={n_ctx}, seed={seed} ({described(A=A)})"
    _close(actual=sub.attention_mix(X, A), expected=ref.attention_mix(X, A), what="M", where=where,
           mistakes=_mistakes("attention_mix", X, A))


FORGOT_X0 = "the residual stream keeps X0: X_final = X0 + sum_h W_OV^h @ X0 @ A^h.T (the heads only add to it)."


@check("q3.one_layer_residual.matches_reference", uses="one_layer_residual")
@given(H=st.integers(1, 3), sizes=_distinct(2), seed=seeds())
def one_layer_residual_matches_reference(sub, H, sizes, seed):
    """X_final = X0 + sum_h W_OVs[h] @ X0 @ As[h].T, for H heads with causal row-stochastic patterns."""
    d_model, n_ctx = sizes
    X0, *W_OVs = matrices(seed, (d_model, n_ctx), *([(d_model, d_model)] * H))
    As = [_row_stochastic(seed + 1 + h, n_ctx) for h in range(H)]
    where = (f"one_layer_residual(X0, W_OVs, As) with H={H}, d_model={d_model}, n_ctx={n_ctx}, seed={seed} "
             "(each A causal, rows summing to 1)")
    expected = ref.one_layer_residual(X0, W_OVs, As)
    heads_only = expected - X0
    mistakes = {FORGOT_X0: heads_only,
                "use A.T: a head writes W_OV @ X0 @ A.T (column i mixes the sources j with weights A[i, j]).":
                    X0 + sum(W @ X0 @ A for W, A in zip(W_OVs, As))}
    _close(actual=sub.one_layer_residual(X0, W_OVs, As), expected=expected, what="X_final", where=where,
           mistakes=mistakes)


# ---------------------------------------------------------------- (e) read and write subspaces

def _svd(sub, W, where, **kwargs):
    """(V, sigma, U, rtol) from the submission, with shapes checked."""
    out = expect.parts(sub.read_write_subspaces(W, **kwargs), 3,
                       what=f"{where}: read_write_subspaces should return (V, sigma, U) and")
    V, r1 = _array(out[0], "V", where)
    s, r2 = _array(out[1], "sigma", where)
    U, r3 = _array(out[2], "U", where)
    d = W.shape[0]
    s = s.reshape(-1) if s.ndim == 2 and 1 in s.shape else s
    if s.ndim != 1:
        raise Failed(f"{where}: sigma has shape {s.shape}; expected a vector of the r kept singular values")
    r = s.shape[0]
    for name, M in (("V", V), ("U", U)):
        if M.shape != (d, r):
            note = (" (it looks transposed: the basis vectors are the COLUMNS)"
                    if M.shape == (r, d) else "")
            raise Failed(f"{where}: {name} has shape {M.shape}, expected (d_model, r) = {(d, r)} with r = "
                         f"len(sigma) = {r}{note}")
    return V, s, U, max(r1, r2, r3)


def _rank_deficient(seed, d_head, d_model):
    W_O, W_V = matrices(seed, (d_model, d_head), (d_head, d_model))
    return W_O @ W_V


def _rws_where(W, d_head, d_model, seed):
    return (f"read_write_subspaces(W_OV) with W_OV = W_O @ W_V, d_head={d_head}, d_model={d_model}, "
            f"seed={seed} ({described(W_OV=W)})")


@check("q3.read_write_subspaces.orthonormal_bases", uses="read_write_subspaces")
@given(sizes=_qk_shapes(), seed=seeds())
def read_write_subspaces_orthonormal_bases(sub, sizes, seed):
    """V (d_model x r) and U (d_model x r) have orthonormal columns."""
    d_head, d_model, _ = sizes
    W = _rank_deficient(seed, d_head, d_model)
    where = _rws_where(W, d_head, d_model, seed)
    V, _, U, rtol = _svd(sub, W, where)
    r = V.shape[1]
    for name, M in (("V", V), ("U", U)):
        _small(M.T @ M - np.eye(r), scale=1.0, rtol=rtol, where=where,
               what=f"{name}.T @ {name} - I (the columns of {name} should be orthonormal)",
               hint="take the singular vectors of the SVD (they are orthonormal), not scaled copies of them.")


@check("q3.read_write_subspaces.rank", uses="read_write_subspaces")
@given(sizes=_qk_shapes(), seed=seeds())
def read_write_subspaces_rank(sub, sizes, seed):
    """r = rank(W_OV): r = d_head <= d_model for W_OV = W_O @ W_V, r = d_model for a full-rank W_OV."""
    d_head, d_model, _ = sizes
    W = _rank_deficient(seed, d_head, d_model)
    (F,) = matrices(seed + 1, (d_model, d_model))
    for M, rank, what in ((W, d_head, f"W_OV = W_O @ W_V has rank d_head={d_head}"),
                          (F, d_model, f"this full-rank W_OV has rank d_model={d_model}")):
        where = (f"read_write_subspaces(W_OV) with d_head={d_head}, d_model={d_model}, seed={seed} "
                 f"({described(W_OV=M)})")
        _, s, _, _ = _svd(sub, M, where)
        if s.shape[0] != rank:
            hint = ("keep only the singular values above tol * sigma_max (the others are rounding noise "
                    "of exact zeros): the compact SVD has r = rank(W_OV) <= d_head columns."
                    if s.shape[0] > rank else
                    "keep every singular value above tol * sigma_max (tol=1e-9 by default).")
            raise Failed(f"{where}: r = len(sigma) = {s.shape[0]}, but {what} "
                         f"(sigma returned: {expect.show(s, 4)})\n    Hint: {hint}")


@check("q3.read_write_subspaces.singular_values", uses="read_write_subspaces")
@given(sizes=_qk_shapes(), seed=seeds())
def read_write_subspaces_singular_values(sub, sizes, seed):
    """sigma holds W_OV's non-zero singular values (compared sorted in descending order)."""
    d_head, d_model, _ = sizes
    W = _rank_deficient(seed, d_head, d_model)
    where = _rws_where(W, d_head, d_model, seed)
    _, s, _, rtol = _svd(sub, W, where)
    _, expected, _ = ref.read_write_subspaces(W)
    _close(actual=np.sort(s)[::-1].copy(), expected=expected, where=where, rtol=rtol,
           what="sigma (sorted in descending order)")


@check("q3.read_write_subspaces.reconstruction", uses="read_write_subspaces")
@given(sizes=_qk_shapes(), full=st.booleans(), seed=seeds())
def read_write_subspaces_reconstruction(sub, sizes, full, seed):
    """e(ii): U @ diag(sigma) @ V.T @ x == W_OV @ x (rank-deficient and full-rank W_OV)."""
    d_head, d_model, n_ctx = sizes
    W = matrices(seed, (d_model, d_model))[0] if full else _rank_deficient(seed, d_head, d_model)
    where = (_rws_where(W, d_head, d_model, seed) if not full else
             f"read_write_subspaces(W_OV) with a full-rank W_OV, d_model={d_model}, seed={seed} ({described(W_OV=W)})")
    V, s, U, rtol = _svd(sub, W, where)
    (x,) = matrices(seed + 3, (d_model, n_ctx))
    got = U @ (s[:, None] * (V.T @ x))
    mistakes = {"V and U look swapped: V is the read basis (right singular vectors, rows of Vh as columns), "
                "U the write basis (left singular vectors).": W.T @ x}
    if V.shape[0] == V.shape[1] and np.allclose(U @ np.diag(s) @ V, W, rtol=10 * rtol, atol=10 * rtol * np.abs(W).max()):
        mistakes["V should be Vh.T (its columns are the rows of Vh), not Vh."] = got
    _close(actual=got, expected=W @ x, rtol=rtol, where=where, mistakes=mistakes,
           what=f"U @ diag(sigma) @ V.T @ x for {n_ctx} drawn vectors x (the columns of a "
                f"{d_model}x{n_ctx} matrix, seed={seed + 3}) compared with W_OV @ x")


@check("q3.read_write_subspaces.read_write_spans", uses="read_write_subspaces")
@given(sizes=_qk_shapes(), seed=seeds())
def read_write_subspaces_read_write_spans(sub, sizes, seed):
    """e(iii): inputs orthogonal to span(V) map to 0; every output W_OV @ x lies in span(U)."""
    d_head, d_model, n_ctx = sizes
    W = _rank_deficient(seed, d_head, d_model)
    where = _rws_where(W, d_head, d_model, seed)
    V, _, U, rtol = _svd(sub, W, where)
    (z,) = matrices(seed + 3, (d_model, n_ctx))
    scale = float(np.max(np.abs(W))) * float(np.max(np.abs(z))) * d_model
    swapped = "V and U look swapped: V is the read basis (right singular vectors), U the write basis (left)."
    _, _, U_ref = ref.read_write_subspaces(W)
    looks_swapped = V.shape == U_ref.shape and np.allclose(V @ V.T, U_ref @ U_ref.T, atol=1e-6)
    x_perp = z - V @ (V.T @ z)
    _small(W @ x_perp, scale=scale, rtol=rtol, where=where,
           what=f"W_OV @ x for inputs x orthogonal to span(V) ({n_ctx} of them, from seed={seed + 3})",
           hint=swapped if looks_swapped else "span(V) must be the whole read subspace (the row space of W_OV).")
    out = W @ z
    _small(out - U @ (U.T @ out), scale=scale, rtol=rtol, where=where,
           what=f"the part of W_OV @ x outside span(U) ({n_ctx} inputs x from seed={seed + 3})",
           hint=swapped if looks_swapped else "span(U) must hold every output (the column space of W_OV).")


# ---------------------------------------------------------------- ANSWERS

Q3C_OPTIONS = ("similar_all_dims", "dim1_only", "match_dim1_oppose_dim3", "anti_aligned")


@check("q3.answers.q3c", answers="q3c")
def answer_q3c(sub):
    """What each toy W_QK looks for, one value per key."""
    got = sub.answer("q3c")  # (first: an unanswered key costs no reference work)
    expected = ref.answers()["q3c"]
    what = 'ANSWERS["q3c"]'
    keys = ", ".join(repr(k) for k in expected)
    options = ", ".join(repr(o) for o in Q3C_OPTIONS)
    if not isinstance(got, dict):
        raise Failed(f"{what} should be a dict with the keys {keys}, each mapped to one of {options}; "
                     f"got {expect.show(got)}")
    if all(v is None or (isinstance(v, str) and v.strip() in ("", "TODO")) for v in got.values()):
        raise Missing(f"{what} is not answered")
    problems = []
    unknown = [k for k in got if k not in expected]
    if unknown:
        problems.append(f"unknown key(s) {', '.join(repr(k) for k in unknown)} (the keys are {keys})")
    unanswered = [k for k in expected if k not in got or got[k] is None]
    if unanswered:
        problems.append(f"no answer for {', '.join(repr(k) for k in unanswered)}")
    invalid = [k for k in expected if k in got and got[k] is not None
               and (not isinstance(got[k], str) or got[k].strip() not in Q3C_OPTIONS)]
    if invalid:
        problems.append(", ".join(f"{k!r}: {expect.show(got[k])} is not one of the allowed values" for k in invalid)
                        + f" ({options})")
    wrong = [k for k in expected if k in got and k not in invalid and got[k] is not None
             and got[k].strip() != expected[k]]
    if wrong:
        problems.append(f"wrong answer for {', '.join(repr(k) for k in wrong)} "
                        f"(got {', '.join(f'{k!r}: {got[k]!r}' for k in wrong)}; allowed values: {options}). "
                        "The score between tokens i and j is x_i @ W_QK @ x_j: write it out for each matrix")
    if problems:
        if unknown and len(problems) == 1:
            return  # every key right; an extra key is harmless
        raise Failed(f"{what}: " + "; ".join(problems))


RANK_RANGES = {"d_head": (1.0, 256.0), "d_model": (16.0, 16384.0)}


@check("q3.answers.q3e_rank_bound", answers="q3e_rank_bound")
def answer_q3e_rank_bound(sub):
    """A bound on rank(W_O @ W_V) in d_head and d_model (compared under d_head <= d_model)."""
    expect.symbolic_equal(actual=sub.answer("q3e_rank_bound"), expected=ref.answers()["q3e_rank_bound"],
                          symbols=RANK_RANGES, key="q3e_rank_bound", what='ANSWERS["q3e_rank_bound"]',
                          constraint=lambda p: p["d_head"] <= p["d_model"],
                          constraint_text="d_head <= d_model")
