"""``grader.py --explain CHECK_ID``: what a check tests, why, and how the reference computes it."""
from __future__ import annotations

import ast
import inspect
import sys
import textwrap


def explain(content, check_id: str) -> str:
    entry = next((e for e in content.entries if e.id == check_id), None)
    if entry is None:
        close = [e.id for e in content.entries if check_id.split(".")[0] in e.id][:8]
        hint = f" Checks of that question: {', '.join(close)}" if close else ""
        raise KeyError(f"no check named {check_id!r}.{hint}")
    spec = entry.spec
    q = content.question(entry.question)
    pts = f"{entry.points:g} pt" if entry.points == 1 else f"{entry.points:g} pts"
    lines = [f"{spec.id}  ({pts}, {entry.visibility}) - {q.id.upper()} {q.title}", ""]
    doc = spec.doc or "(no description)"
    what, _, why = doc.partition("\n\n")
    lines += ["What it tests:", textwrap.indent(textwrap.fill(what, 76), "  "), ""]
    module = sys.modules.get(spec.function.__module__)
    claim = why.strip() or (inspect.getdoc(module) or "").strip()
    if claim:
        lines += ["Why (the homework's claim behind it):", textwrap.indent(claim, "  "), ""]
    if entry.visibility == "hidden":
        lines.append("This is a hidden check: how it computes its answer is not shown.")
        return "\n".join(lines) + "\n"
    lines.append("How it is checked (the check's code):")
    try:
        source = inspect.getsource(getattr(spec.function, "hypothesis", None).inner_test
                                   if hasattr(spec.function, "hypothesis") else spec.function)
    except (OSError, TypeError, AttributeError):
        source = "(source not available)"
    lines.append(textwrap.indent(textwrap.dedent(source), "  "))
    for helper in _module_helpers(source, module):
        try:
            extra = inspect.getsource(helper)
        except (OSError, TypeError):
            continue
        lines.append(textwrap.indent(extra, "  "))
        source += "\n" + textwrap.dedent(extra)
    for name, fn in _reference_functions(source, module):
        try:
            lines += [f"How the reference computes {name}:", textwrap.indent(inspect.getsource(fn), "  ")]
        except (OSError, TypeError):
            continue
    return "\n".join(lines) + "\n"


def _module_helpers(source, module):
    """Private helpers of the check module that the check calls (one level)."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.startswith("_"):
            fn = getattr(module, node.func.id, None)
            if inspect.isfunction(fn) and fn not in out:
                out.append(fn)
    return out


def _reference_functions(source, module):
    """``ref.name`` functions the check's code uses."""
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return []
    ref = getattr(module, "ref", None)
    if ref is None:
        return []
    seen, out = set(), []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ref"
                and node.attr not in seen):
            seen.add(node.attr)
            fn = getattr(ref, node.attr, None)
            if callable(fn) and inspect.isfunction(fn):
                out.append((f"ref.{node.attr}", fn))
    return out
