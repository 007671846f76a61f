"""Symbolic answers: a safe reader for strings, and a deterministic verdict.

Student text is never given to ``eval``, ``sympify`` or ``parse_expr``.
``ast.parse`` only builds a syntax tree (it runs nothing); the tree is then
walked against a whitelist: numbers, the symbols listed for the key,
``+ - * / **``, parentheses and ``sqrt log exp Min Max``. The verdict
evaluates both expressions with mpmath at 32 seeded points in documented
ranges; nothing else decides it.
"""
from __future__ import annotations

import ast
import hashlib
import math

import mpmath

from hw11grader.boundary.child.wire import Expr

MAX_CHARS = 500
MAX_NESTING = 50
MAX_EXPONENT = 1000
FUNCTIONS = {"sqrt": 1, "log": 1, "exp": 1, "Min": None, "Max": None}
N_POINTS = 32
DIGITS = 50
AGREE = mpmath.mpf("1e-12")


class Rejected(ValueError):
    """The answer string is not an allowed expression (it is never evaluated)."""


# An expression is a small tree of tuples:
#   ("num", mpf) | ("sym", name) | ("add", [..]) | ("mul", [..])
#   ("pow", base, exp) | ("neg", x) | ("call", name, [..])


def parse(text: str, symbols) -> tuple:
    """Read an answer string into a tree, or raise Rejected with the reason."""
    if not isinstance(text, str):
        raise Rejected(f"expected a string such as \"k*(m + l)/(m*l)\", got a {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise Rejected(f"the expression is longer than {MAX_CHARS} characters")
    depth = best = 0
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}"
        best = max(best, depth)
    if best > MAX_NESTING:
        raise Rejected(f"the expression nests more than {MAX_NESTING} levels deep")
    if "^" in text:
        raise Rejected("`^` is not a power in Python: write ** (for example m**2)")
    try:
        node = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise Rejected("this is not a valid expression (check brackets and use * for products)") from None
    with mpmath.workdps(DIGITS):
        return _walk(node.body, set(symbols), [0])


def _walk(node, symbols, count):
    count[0] += 1
    if count[0] > 2000:
        raise Rejected("the expression is too large")
    if isinstance(node, ast.Constant):
        v = node.value
        if type(v) is int:
            if v.bit_length() > 4000:
                raise Rejected("a number in the expression is too large")
            return ("num", mpmath.mpf(v))
        if type(v) is float:
            return ("num", mpmath.mpf(repr(v)))
        raise Rejected(f"only numbers and symbols are allowed, not {type(v).__name__} literals")
    if isinstance(node, ast.Name):
        if node.id in symbols:
            return ("sym", node.id)
        allowed = ", ".join(sorted(symbols)) or "none"
        raise Rejected(f"unknown name {node.id!r}: the allowed symbols here are {allowed}")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _walk(node.operand, symbols, count)
        return ("neg", inner) if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp):
        a = _walk(node.left, symbols, count)
        b = _walk(node.right, symbols, count)
        op = node.op
        if isinstance(op, ast.Add):
            return ("add", [a, b])
        if isinstance(op, ast.Sub):
            return ("add", [a, ("neg", b)])
        if isinstance(op, ast.Mult):
            return ("mul", [a, b])
        if isinstance(op, ast.Div):
            return ("mul", [a, ("pow", b, ("num", mpmath.mpf(-1)))])
        if isinstance(op, ast.Pow):
            _check_exponent(b)
            return ("pow", a, b)
        raise Rejected(f"the operator {type(op).__name__} is not allowed (only + - * / **)")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise Rejected("only the functions sqrt, log, exp, Min and Max may be called")
        if node.keywords:
            raise Rejected("keyword arguments are not allowed")
        arity = FUNCTIONS[node.func.id]
        if (arity and len(node.args) != arity) or not node.args:
            raise Rejected(f"{node.func.id} takes {arity or 'at least one'} argument(s)")
        return ("call", node.func.id, [_walk(a, symbols, count) for a in node.args])
    what = type(node).__name__
    hint = " (attribute access)" if what == "Attribute" else (" (lambda)" if what == "Lambda" else "")
    raise Rejected(f"{what}{hint} is not allowed in an answer: only numbers, symbols, + - * / ** and sqrt/log/exp/Min/Max")


def _check_exponent(tree):
    if _has_symbol(tree):
        return
    try:
        value = evaluate(tree, {})
    except (ValueError, ZeroDivisionError, OverflowError):
        raise Rejected("an exponent could not be evaluated") from None
    if not isinstance(value, mpmath.mpf) or not mpmath.isfinite(value) or abs(value) > MAX_EXPONENT:
        raise Rejected(f"exponents must be at most {MAX_EXPONENT} in magnitude")


def _has_symbol(tree):
    kind = tree[0]
    if kind == "sym":
        return True
    if kind == "num":
        return False
    if kind in ("add", "mul"):
        return any(_has_symbol(t) for t in tree[1])
    if kind == "pow":
        return _has_symbol(tree[1]) or _has_symbol(tree[2])
    if kind == "neg":
        return _has_symbol(tree[1])
    return any(_has_symbol(t) for t in tree[2])


def from_wire(expr: Expr, symbols) -> tuple:
    """A sympy expression the submission returned (already shape-checked by wire)."""

    def conv(node):
        kind, arg = node
        if kind == "Symbol":
            if arg not in symbols:
                raise Rejected(f"the result contains the unexpected symbol {arg!r}")
            return ("sym", arg)
        if kind == "Integer":
            return ("num", mpmath.mpf(arg))
        if kind == "Rational":
            return ("num", mpmath.mpf(arg[0]) / arg[1])
        if kind == "Float":
            return ("num", mpmath.mpf(arg))
        parts = [conv(a) for a in arg]
        if kind == "Add":
            return ("add", parts)
        if kind == "Mul":
            return ("mul", parts)
        if kind == "Pow":
            _check_exponent(parts[1])
            return ("pow", parts[0], parts[1])
        return ("call", kind, parts)

    with mpmath.workdps(DIGITS):
        return conv(expr.tree)


def evaluate(tree, point):
    kind = tree[0]
    if kind == "num":
        return tree[1]
    if kind == "sym":
        return point[tree[1]]
    if kind == "add":
        return mpmath.fsum(evaluate(t, point) for t in tree[1])
    if kind == "mul":
        out = mpmath.mpf(1)
        for t in tree[1]:
            out *= evaluate(t, point)
        return out
    if kind == "neg":
        return -evaluate(tree[1], point)
    if kind == "pow":
        base, exp = evaluate(tree[1], point), evaluate(tree[2], point)
        if base == 0 and exp < 0:
            raise ZeroDivisionError
        return mpmath.power(base, exp)
    args = [evaluate(t, point) for t in tree[2]]
    name = tree[1]
    if name == "sqrt":
        return mpmath.sqrt(args[0])
    if name == "log":
        return mpmath.log(args[0])
    if name == "exp":
        return mpmath.exp(args[0])
    if name == "Min":
        return min(args)
    return max(args)


def sample_points(ranges: dict, key: str, n: int = N_POINTS):
    """Deterministic points: log-uniform in each (low, high) range, seeded by ``key``."""
    import numpy as np

    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")
    rng = np.random.default_rng(seed)
    points = []
    for _ in range(n):
        p = {}
        for name in sorted(ranges):
            low, high = ranges[name]
            if low > 0:
                v = math.exp(rng.uniform(math.log(low), math.log(high)))
            else:
                v = rng.uniform(low, high)
            p[name] = v
        points.append(p)
    return points


def _real(v):
    if isinstance(v, mpmath.mpc):
        if abs(v.imag) > AGREE * max(abs(v.real), mpmath.mpf(1)):
            return None
        v = v.real
    if not mpmath.isfinite(v):
        return None
    return v


def compare(student_tree, expected, ranges: dict, key: str, constraint=None, bindings=None):
    """Evaluate both at seeded points; return None if they agree, else a description.

    ``expected`` is a sympy expression (trusted, from reference/), or in the
    student kit a ``TapedExpression``: the reference's values at the same
    points, recorded when the kit was built; ``constraint`` (optional)
    filters points, e.g. d_head <= d_model. ``bindings`` (optional) gives a
    name that is not sampled (``S``) its value at each point from an
    expression in the sampled names (a reference answer, recorded alike).
    """
    names = sorted(ranges)
    points = sample_points(ranges, key)
    bound = {}
    for name, expression in sorted((bindings or {}).items()):
        bound[name] = _expected_values(expression, names, points, ranges, f"{key}#{name}")
    if bound:
        points = [dict(p, **{n: (float(mpmath.mpf(v[i])) if v[i] is not None else math.nan) for n, v in bound.items()})
                  for i, p in enumerate(points)]
    expected_values = _expected_values(expected, names + sorted(bound), points, ranges, key)
    checked = 0
    with mpmath.workdps(DIGITS):
        for p, ref in zip(points, expected_values):
            if constraint is not None and not constraint(p):
                continue
            if ref is None:
                continue
            ref = mpmath.mpf(ref)
            checked += 1
            if any(not math.isfinite(float(v)) for v in p.values()):
                continue
            point = {n: mpmath.mpf(repr(float(v))) for n, v in p.items()}
            try:
                got = _real(evaluate(student_tree, point))
            except (ZeroDivisionError, ValueError, OverflowError):
                got = None
            if got is None or abs(got - ref) > AGREE * max(abs(ref), mpmath.mpf("1e-30")):
                shown = ", ".join(f"{n}={_g(p[n])}" for n in names)  # bound names are not inputs
                return (f"at {shown} it gives {_g(got) if got is not None else 'an undefined value'}, "
                        f"but the expected expression gives {_g(ref)}")
    if checked == 0:
        raise ValueError("no valid sample point for the reference expression")
    return None


def _expected_values(expected, names, points, ranges, key):
    """The expected expression's value at each point (a decimal string, or None where undefined)."""
    from hw11grader.judge import tape

    if isinstance(expected, tape.TapedExpression):
        return expected.values_for(key, ranges)
    if any(any(not math.isfinite(float(p.get(n, 0.0))) for n in names) for p in points):
        points = [p if all(math.isfinite(float(p[n])) for n in names) else None for p in points]
    import sympy

    syms = [sympy.Symbol(n, positive=True) for n in names]
    # match by name: the reference's symbols may carry other assumptions
    by_name = {s.name: s for s in expected.free_symbols}
    renamed = expected.xreplace({by_name[n]: s for n, s in zip(names, syms) if n in by_name})
    ref_fn = sympy.lambdify(syms, renamed, modules="mpmath")
    values = []
    with mpmath.workdps(DIGITS):
        for p in points:
            if p is None:  # a bound name undefined at this point
                values.append(None)
                continue
            point = {n: mpmath.mpf(repr(float(v))) for n, v in p.items()}
            try:
                v = _real(ref_fn(*[point[n] for n in names]))
            except (ZeroDivisionError, ValueError, OverflowError):
                v = None
            values.append(None if v is None else mpmath.nstr(v, DIGITS + 5, strip_zeros=False))
    tape.record_points(expected, key, ranges, values)
    return values


def describe_ranges(ranges: dict) -> str:
    return ", ".join(f"{n} in [{_g(lo)}, {_g(hi)}]" for n, (lo, hi) in sorted(ranges.items()))


def _g(v) -> str:
    try:
        return f"{float(v):.7g}"
    except (TypeError, ValueError, OverflowError):
        return str(v)[:40]
