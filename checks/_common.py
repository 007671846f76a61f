"""Helpers shared by the question modules: inputs, drawing strategies, messages."""
import contextlib

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
    from hw11grader.authoring import show
    return ", ".join(f"{k}={show(v)}" for k, v in inputs.items())


SYMBOLIC_HINT = ("it must be pure arithmetic (+ - * / ** only, no int(), math.* or np.* calls) "
                 "so that it also works when called with sympy symbols")


def call_with_symbols(sub, name, *symbols, shown=None):
    """``name(Symbol(a), Symbol(b), ...)``; a numbers-only implementation fails with a hint.

    Symbolic-capable functions earn their numeric checks either way; only the
    symbolic check is lost when the call raises on sympy symbols.
    """
    from hw11grader.authoring import Symbol
    from hw11grader.authoring import Failed, StudentError

    try:
        return sub.call(name, *[Symbol(s) for s in symbols])
    except StudentError as e:
        shown = shown or f"{name}({', '.join(symbols)}) with sympy symbols"
        raise Failed(f"{shown} failed: {SYMBOLIC_HINT}.\n{e.message}") from None


@contextlib.contextmanager
def edge_case(description):
    """Name the known edge case an input is, when a call made inside raises or hangs on it.

    ``description`` (``None``: the input is no edge case) is added to the
    message of an ``error`` or ``timeout`` outcome, just under the call::

        with edge_case("no entries to zero" if k == 0 else None):
            out = sub.magnitude_prune(W, sparsity)

    Wrong values (``failed``) and unimplemented functions pass unchanged.
    """
    from hw11grader.authoring import Abort, StudentError, StudentTimeout

    def named(outcome):
        first, _, rest = outcome.message.partition("\n")
        message = f"{first}\n    Edge case: {description}" + (f"\n{rest}" if rest else "")
        return type(outcome)(message, fatal=outcome.fatal)

    try:
        yield
    except (StudentError, StudentTimeout) as e:
        if description is None:
            raise
        raise named(e) from None
    except Abort as a:  # an input-independent outcome (a timeout or a dead process) on this input
        if description is None or not isinstance(a.outcome, (StudentError, StudentTimeout)):
            raise
        raise Abort(named(a.outcome)) from None
