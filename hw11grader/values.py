"""How a value is shown in a message: compact, bounded and the same on every run.

A leaf module (numpy and the wire's value types only), so that the boundary,
the comparisons and the kit's tape can all name a value the same way.
"""
from __future__ import annotations

import math

import numpy as np

from hw11grader.boundary.child.wire import Expr, Handle, Opaque


def g(x, digits=7) -> str:
    """A number for a message: 7 significant digits (or ``digits``), stable across runs."""
    try:
        x = float(x)
    except (TypeError, ValueError, OverflowError):
        return str(x)[:60]
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def show(value, digits=4, limit=16) -> str:
    """A compact, deterministic rendering of an input or output value."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return g(value.item())
        shape = "x".join(str(s) for s in value.shape)
        if value.size <= limit and value.dtype.kind in "fiub":
            rows = np.array2string(value, precision=digits, separator=", ",
                                   suppress_small=False, max_line_width=10_000,
                                   formatter={"float_kind": lambda v: f"{v:.{digits}g}"})
            return f"{shape} array {' '.join(rows.split())}"
        return f"{shape} array"
    if isinstance(value, (list, tuple)):
        if len(value) <= limit and all(isinstance(v, (int, float, bool)) for v in value):
            inner = ", ".join(g(v) if isinstance(v, float) else repr(v) for v in value)
            return f"[{inner}]" if isinstance(value, list) else f"({inner})"
        return f"{type(value).__name__} of {len(value)}"
    if isinstance(value, float):
        return g(value)
    if isinstance(value, (Opaque, Handle)):
        return repr(value)
    if isinstance(value, Expr):
        return "a symbolic expression"
    if isinstance(value, str):
        return repr(value if len(value) <= 80 else value[:80] + "...")
    return repr(value)[:80]
