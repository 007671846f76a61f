"""Q1 reference: LoRA, ``W = W0 + A @ B`` with ``A: m x k`` and ``B: k x l``.

Plain maths (numpy + sympy). Arrays are float64 numpy arrays; the memory
formulas are pure arithmetic and so also work on ``sympy`` symbols.
``ANSWERS`` is built lazily (module ``__getattr__``) from :func:`answers`.
"""
from functools import lru_cache

import numpy as np
import sympy

# Symbols of ANSWERS["q1d_ratio"] (plain positive reals, as the grader's parser uses).
m, l, k = sympy.symbols("m l k", positive=True)

__all__ = [
    "m", "l", "k",
    "lora_init", "lora_grads", "lora_bytes", "full_update_bytes", "lora_forward",
    "answers", "ANSWERS",
    # known mistakes
    "lora_grads_swapped_outputs", "lora_grads_transposed",
    "lora_init_both_zero", "lora_init_both_random",
    "lora_bytes_no_bytes_per_param", "q1d_ratio_inverted",
]


def _as_rng(rng):
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)  # None, int seed or SeedSequence


def lora_init(m, k, l, rng=None):
    """LoRA factors for the start of fine-tuning.

    ``A`` (m x k) ~ N(0, 1/k) elementwise, ``B`` (k x l) all zeros, so
    ``A @ B == 0`` exactly (W starts at W0) while ``dL/dB = A.T @ G`` is
    non-zero at the first step. ``rng``: numpy Generator, int seed or None.
    """
    rng = _as_rng(rng)
    A = rng.standard_normal((int(m), int(k))) / np.sqrt(int(k))
    B = np.zeros((int(k), int(l)))
    return A, B


def lora_grads(G, A, B):
    """Given ``G = dL/dW`` (m x l), return ``(dL/dA, dL/dB) = (G @ B.T, A.T @ G)``."""
    G = np.asarray(G, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    return G @ B.T, A.T @ G


def lora_bytes(m, l, k, bytes_per_param=4):
    """Memory of ``A`` and ``B``: ``bytes_per_param * k * (m + l)``. Symbolic-capable."""
    return bytes_per_param * k * (m + l)


def full_update_bytes(m, l, bytes_per_param=4):
    """Memory of a full-rank ``m x l`` update: ``bytes_per_param * m * l``. Symbolic-capable."""
    return bytes_per_param * m * l


def lora_forward(W0, A, B, x):
    """``x @ (W0 + A @ B).T``: maps ``(..., l)`` to ``(..., m)``."""
    W0 = np.asarray(W0, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    return x @ (W0 + A @ B).T


@lru_cache(maxsize=None)
def answers():
    """The accepted ``ANSWERS`` of Q1 (cached; use ``ANSWERS`` for a fresh copy)."""
    return {
        "q1a": "increase_rank",
        # derived, never typed in: LoRA memory over full-update memory
        "q1d_ratio": sympy.simplify(lora_bytes(m, l, k) / full_update_bytes(m, l)),
    }


def __getattr__(name):
    if name == "ANSWERS":
        return dict(answers())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------
# Known mistakes (the commonest wrong answers; used for hints, never accepted)
# ---------------------------------------------------------------------------

def lora_grads_swapped_outputs(G, A, B):
    """Right gradients in the wrong order: ``(A.T @ G, G @ B.T)`` = ``(dB, dA)``."""
    dA, dB = lora_grads(G, A, B)
    return dB, dA


def lora_grads_transposed(G, A, B):
    """Gradients of the transposed factors: ``(B @ G.T, G.T @ A)`` = ``(dA.T, dB.T)``.

    Shapes ``k x m`` and ``l x k`` (wrong unless m == l == k)."""
    dA, dB = lora_grads(G, A, B)
    return dA.T, dB.T


def lora_init_both_zero(m, k, l, rng=None):
    """q1b mistake: ``A = B = 0``; both gradients vanish and W stays W0 forever."""
    return np.zeros((int(m), int(k))), np.zeros((int(k), int(l)))


def lora_init_both_random(m, k, l, rng=None):
    """q1c mistake: both factors random (Xavier-like), so ``A @ B != 0`` at the start."""
    rng = _as_rng(rng)
    A = rng.standard_normal((int(m), int(k))) * np.sqrt(2.0 / (int(m) + int(k)))
    B = rng.standard_normal((int(k), int(l))) * np.sqrt(2.0 / (int(k) + int(l)))
    return A, B


def lora_bytes_no_bytes_per_param(m, l, k, bytes_per_param=4):
    """Counted numbers instead of bytes: ``k * (m + l)``."""
    return k * (m + l)


def q1d_ratio_inverted():
    """Full over LoRA instead of LoRA over full: ``m*l / (k*(m + l))``."""
    return sympy.simplify(1 / answers()["q1d_ratio"])
