"""Helpers shared by the question modules: inputs and drawing strategies."""
import numpy as np
from hypothesis import strategies as st


def matrices(seed, *shapes, scale=1.0):
    """Deterministic standard-normal float64 matrices of the given shapes."""
    rng = np.random.default_rng(seed)
    return [scale * rng.standard_normal(shape) for shape in shapes]


def dims(low=1, high=6):
    return st.integers(low, high)


def seeds():
    return st.integers(0, 2**16)


def log_uniform(low, high):
    """Positive floats spread over orders of magnitude (shrinks towards ``low``)."""
    lo, hi = np.log10(low), np.log10(high)
    return st.integers(0, 10_000).map(lambda i: float(10 ** (lo + (hi - lo) * i / 10_000)))


def described(**inputs):
    """`name=value, ...` for messages (values shown compactly)."""
    from hw11grader.compare import show
    return ", ".join(f"{k}={show(v)}" for k, v in inputs.items())
