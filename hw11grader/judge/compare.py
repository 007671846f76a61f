"""Staged comparisons with messages written for students.

Each function raises ``Failed`` (a wrong value) or ``Missing`` (unanswered)
with a message naming what was compared, what came back, what was expected
and the tolerance. Stages: None -> type -> shape -> finite -> close.
Arguments are keyword-only so that actual and expected are never swapped.
"""
from __future__ import annotations

import math

import numpy as np

from hw11grader.judge import symbolic
from hw11grader.outcomes import Abort, Failed, Missing
from hw11grader.boundary.child.wire import Expr, Handle, Opaque
from hw11grader.values import g, show  # noqa: F401  (expect.g, expect.show for check authors)

RTOL_FLOAT64 = 1e-6
RTOL_FLOAT32 = 1e-4


def _kind(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, (Opaque, Handle)):
        return f"an object of type {value.type_name}"
    if isinstance(value, Expr):
        return "a symbolic expression"
    if isinstance(value, str):
        return f"the string {show(value)}"
    if isinstance(value, dict):
        return "a dict"
    return f"a {type(value).__name__}"


def as_array(value, *, what: str) -> tuple[np.ndarray, float]:
    """Numbers, arrays and nested lists -> (float64 array, rtol for their precision)."""
    rtol = RTOL_FLOAT64
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "fiub":
            raise Failed(f"{what} has dtype {value.dtype}, expected numbers")
        if value.dtype in (np.float32, np.float16):
            rtol = RTOL_FLOAT32
        return value.astype(np.float64), rtol
    if isinstance(value, bool) or value is None or isinstance(value, (str, dict, Opaque, Handle, Expr)):
        # the same on every input: stop at once rather than shrink
        raise Abort(Failed(f"{what} is {_kind(value)}, expected numbers"))
    if isinstance(value, (int, float)):
        return np.asarray(float(value)), rtol
    if isinstance(value, (list, tuple)):
        try:
            arr = np.asarray(_flatten_numbers(value), dtype=np.float64)
        except (ValueError, TypeError):
            raise Failed(f"{what} is a {type(value).__name__} that is not a rectangular array of numbers") from None
        return arr, rtol
    raise Failed(f"{what} is {_kind(value)}, expected numbers")


def _flatten_numbers(value):
    if isinstance(value, (list, tuple)):
        return [_flatten_numbers(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.astype(np.float64).tolist()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError
    return float(value)


def close(*, actual, expected, what: str = "the result", rtol: float | None = None,
          mistakes: dict | None = None, where: str = "") -> None:
    """``actual`` must match ``expected`` elementwise within a relative tolerance.

    ``mistakes`` maps a hint to the value that mistake would produce; when the
    wrong answer matches one, its hint is added to the message.
    """
    exp = np.asarray(expected, dtype=np.float64)
    prefix = f"{where}: " if where else ""
    got, own_rtol = as_array(actual, what=f"{prefix}{what}")
    rtol = rtol if rtol is not None else own_rtol
    if got.shape != exp.shape:
        if got.size == exp.size == 1:
            got = got.reshape(exp.shape)
        else:
            note = " (it looks transposed)" if got.shape == exp.shape[::-1] and got.ndim == 2 else ""
            raise Failed(_with_hint(
                f"{prefix}{what} has shape {_shape(got)}, expected {_shape(exp)}{note}",
                _matching_mistake(got, mistakes, rtol)))
    # absolute slack relative to the largest entry: float32 products that
    # cancel to near zero are right, not wrong
    scale = float(np.max(np.abs(exp))) if exp.size else 0.0
    atol = rtol * scale + 1e-300
    if exp.size and not np.all(np.isfinite(got)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(got))[0])
        if np.all(np.isfinite(exp)):
            raise Failed(f"{prefix}{what} contains {g(got[bad])} at index {list(bad)}; expected finite numbers "
                         f"(expected {g(exp[bad])} there)")
    err = np.abs(got - exp)
    limit = rtol * np.abs(exp) + atol
    same_nonfinite = (~np.isfinite(exp)) & (got == exp)
    bad_mask = ~((err <= limit) | same_nonfinite)
    if not bad_mask.any():
        return
    idx = np.unravel_index(np.argmax(np.where(bad_mask, err / np.maximum(limit, 1e-300), -1)), exp.shape)
    nbad = int(bad_mask.sum())
    if exp.ndim == 0:
        detail = f"got {g(got)}, expected {g(exp)}"
    else:
        at = list(int(i) for i in idx)
        detail = (f"{nbad} of {exp.size} entries differ; worst at index {at}: got {g(got[idx])}, "
                  f"expected {g(exp[idx])}")
        if exp.size <= 16:
            detail += f"\n    got      {show(got, 7)}\n    expected {show(exp, 7)}"
    msg = f"{prefix}{what}: {detail} (tolerance: {rtol:g} x each entry + {rtol:g} x the largest entry)"
    raise Failed(_with_hint(msg, _matching_mistake(got, mistakes, rtol)))


def _shape(a):
    return "()" if a.ndim == 0 else "(" + ", ".join(str(s) for s in a.shape) + ")"


def _matching_mistake(got, mistakes, rtol):
    for hint, wrong in (mistakes or {}).items():
        if wrong is None:
            continue
        try:
            w = np.asarray(wrong, dtype=np.float64)
        except (TypeError, ValueError):
            continue
        if w.shape != got.shape:
            if w.size == got.size == 1:
                w = w.reshape(got.shape)
            else:
                continue
        scale = float(np.max(np.abs(w))) if w.size else 0.0
        if np.all(np.abs(got - w) <= rtol * np.abs(w) + rtol * scale):
            return hint
    return None


def _with_hint(message, hint):
    return f"{message}\n    Hint: {hint}" if hint else message


def parts(actual, n: int, *, what: str):
    """A tuple or list of exactly ``n`` parts (e.g. ``(A, B)``)."""
    if not isinstance(actual, (tuple, list)) or isinstance(actual, str):
        raise Failed(f"{what} should be a tuple of {n} values, got {_kind(actual)}")
    if len(actual) != n:
        raise Failed(f"{what} should be a tuple of {n} values, got {len(actual)}")
    return list(actual)


def integer(*, actual, expected, what: str = "the result", where: str = "",
            mistakes: dict | None = None) -> None:
    """An integer-valued number or array equal to ``expected`` (``mistakes`` as in ``close``)."""
    prefix = f"{where}: " if where else ""
    got, _ = as_array(actual, what=f"{prefix}{what}")
    exp = np.asarray(expected, dtype=np.float64)
    if got.shape != exp.shape and not (got.size == exp.size == 1):
        raise Failed(f"{prefix}{what} has shape {_shape(got)}, expected {_shape(exp)}")
    got = got.reshape(exp.shape)
    if not np.all(np.isfinite(got)) or not np.all(got == np.round(got)):
        raise Failed(f"{prefix}{what} should be a whole number, got {show(got, 7)}")
    if not np.array_equal(got, exp):
        raise Failed(_with_hint(f"{prefix}{what}: got {show(got, 10, limit=32)}, expected {show(exp, 10, limit=32)}",
                                _matching_mistake(got, mistakes, 0.0)))


def choice(*, actual, expected, options, what: str) -> None:
    if actual is None:
        raise Missing(f"{what} is not answered")
    if actual not in options:
        raise Failed(f"{what} must be one of {', '.join(repr(o) for o in options)}; got {show(actual)}")
    if not (expected == actual):  # expected may be the kit's salted hash of the choice (tape.HashedValue)
        raise Failed(f"{what}: {actual!r} is not the right choice")


def equal(*, actual, expected, what: str) -> None:
    if actual != expected:
        raise Failed(f"{what}: got {show(actual)}, expected {show(expected)}")


def symbolic_equal(*, actual, expected, symbols: dict, key: str, what: str,
                   constraint=None, constraint_text: str = "") -> None:
    """``actual`` (an answer string or a returned sympy value) equals ``expected``.

    ``symbols`` maps each allowed symbol to the (low, high) range sampled.
    """
    where = symbolic.describe_ranges(symbols) + (f", {constraint_text}" if constraint_text else "")
    try:
        if isinstance(actual, Expr):
            tree = symbolic.from_wire(actual, symbols)
        elif isinstance(actual, (int, float)) and not isinstance(actual, bool):
            tree = ("num", symbolic.mpmath.mpf(repr(float(actual))))
        else:
            tree = symbolic.parse(actual, symbols)
    except symbolic.Rejected as e:
        raise Failed(f"{what} was not read: {e}. It was not evaluated.") from None
    diff = symbolic.compare(tree, expected, symbols, key, constraint)
    if diff is not None:
        raise Failed(f"{what} is not equivalent to the expected expression: {diff}.\n"
                     f"    (compared at 32 seeded points with {where})")
