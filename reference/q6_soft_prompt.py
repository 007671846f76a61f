"""Reference for Q6 (soft prompting a frozen causal language model).

Q6 uses the PyTorch convention: rows are tokens.  Numpy float64 semantics:
array arguments are converted with ``np.asarray(..., dtype=float64)`` and
numpy arrays are returned.

``ANSWERS`` and the sympy symbol ``E`` are built lazily on first access
(module ``__getattr__``), so importing this module does not import sympy.
"""

import functools
import math

import numpy as np

__all__ = [
    "loss_output_positions",
    "soft_prompt_params",
    "causal_self_attention",
    "answers",
    "ANSWERS",
    "E",
    # known mistakes
    "causal_self_attention_no_mask",
    "causal_self_attention_no_scale",
    "causal_self_attention_softmax_wrong_axis",
    "loss_output_positions_no_shift",
    "KNOWN_MISTAKES",
]


def _f64(a):
    return np.asarray(a, dtype=np.float64)


def _positions(target_input_positions):
    """Integer positions from a list / range / array / tensor / iterable."""
    x = target_input_positions
    if not (hasattr(x, "__array__") or hasattr(x, "__len__")):
        x = list(x)
    flat = np.asarray(x).ravel()
    out = []
    for v in flat.tolist():
        iv = int(v)
        if iv != v:
            raise ValueError(f"position {v!r} is not an integer")
        out.append(iv)
    return out


# ---------------------------------------------------------------------------
# Functions of the student API
# ---------------------------------------------------------------------------

def loss_output_positions(target_input_positions):
    """Output positions whose next-token targets are the given input positions.

    The target at output position ``p`` is the input token at ``p + 1``, so
    input position ``t`` is predicted at output ``t - 1``.  Sorted, unique,
    Python ints.
    """
    return sorted({p - 1 for p in _positions(target_input_positions)})


def soft_prompt_params(n_prompt_tokens, embed_dim):
    """Trainable numbers of a soft prompt: one ``embed_dim`` vector per prompt
    token (the model is frozen).  Symbolic-capable."""
    return n_prompt_tokens * embed_dim


def _attention(X, W_Q, W_K, W_V, *, scale=True, mask=True, axis=-1):
    X = _f64(X)
    Q = X @ _f64(W_Q)
    K = X @ _f64(W_K)
    V = X @ _f64(W_V)
    scores = Q @ np.swapaxes(K, -1, -2)
    if scale:
        scores = scores / math.sqrt(Q.shape[-1])
    n = scores.shape[-1]
    if mask:
        future = np.triu(np.ones((n, n), dtype=bool), k=1)  # j > i
        scores = np.where(future, -np.inf, scores)
    # stable softmax; every row (and column) keeps its diagonal entry finite
    scores = scores - scores.max(axis=axis, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=axis, keepdims=True)
    return weights @ V


def causal_self_attention(X, W_Q, W_K, W_V):
    """Single-head causal self-attention.

    ``X``: ``n x d_model`` (rows are tokens; leading batch dimensions are
    allowed), ``W_*``: ``d_model x d_head``.  Scores ``Q K^T / sqrt(d_head)``
    (``d_head`` = columns of ``W_Q``), position ``i`` attends to ``j <= i``,
    softmax over ``j``; returns ``n x d_head``.
    """
    return _attention(X, W_Q, W_K, W_V)


# ---------------------------------------------------------------------------
# ANSWERS (built lazily; sympy is imported only here)
# ---------------------------------------------------------------------------

_SYMBOL_NAMES = ("E",)

# Homework layout: chain of thought at input positions 51..70, the answer at
# 71 and a newline at 72 are the supervised targets.
_Q6A_TARGET_INPUT_POSITIONS = range(51, 73)
_Q6B_PROMPT_TOKENS = 5

# c(i)   True : causal mask -> the first K positions only see the prompt
# c(ii)  True : hard prompts are a subset of soft prompts
# c(iii) False: full fine-tuning can overfit / forget; no guarantee
# c(iv)  False: the model is frozen, task-A training changes nothing shared
_Q6C = (True, True, False, False)


@functools.lru_cache(maxsize=None)
def _symbols():
    import sympy

    return {"E": sympy.Symbol("E", positive=True)}


@functools.lru_cache(maxsize=None)
def answers():
    """The accepted ``ANSWERS`` of Q6 (cached; use ``ANSWERS`` for a fresh copy)."""
    return {
        "q6a": loss_output_positions(_Q6A_TARGET_INPUT_POSITIONS),
        "q6b": soft_prompt_params(_Q6B_PROMPT_TOKENS, _symbols()["E"]),
        "q6c": list(_Q6C),
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

def causal_self_attention_no_mask(X, W_Q, W_K, W_V):
    """Mistake: no causal mask (every position sees the future)."""
    return _attention(X, W_Q, W_K, W_V, mask=False)


def causal_self_attention_no_scale(X, W_Q, W_K, W_V):
    """Mistake: scores not divided by ``sqrt(d_head)``."""
    return _attention(X, W_Q, W_K, W_V, scale=False)


def causal_self_attention_softmax_wrong_axis(X, W_Q, W_K, W_V):
    """Mistake: softmax over the query axis ``i`` (columns sum to 1)."""
    return _attention(X, W_Q, W_K, W_V, axis=-2)


def loss_output_positions_no_shift(target_input_positions):
    """Mistake: the target input positions themselves (no shift by one)."""
    return sorted(set(_positions(target_input_positions)))


KNOWN_MISTAKES = {
    "causal_self_attention": (
        (causal_self_attention_no_mask,
         "position i must not attend to j > i: mask the future before the softmax"),
        (causal_self_attention_no_scale, "the scores must be divided by sqrt(d_head)"),
        (causal_self_attention_softmax_wrong_axis,
         "the softmax runs over the source positions j (each row sums to 1)"),
    ),
    "loss_output_positions": (
        (loss_output_positions_no_shift,
         "targets are the inputs shifted left by one: input t is predicted at output t - 1"),
    ),
}
