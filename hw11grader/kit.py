"""``grader.py build student --out DIR``: the student kit, with no hidden check in it.

What ships: the template (``hw11.py``, ``hw11.ipynb``), ``grader.py``, the
engine (``hw11grader/``), ``experiments/`` (whole: it holds no answers),
``requirements.lock``, a short README, and FILTERED content:

* ``checks/qN_*.py``: the public checks and only what they use. A hidden
  check is removed with its source: a top-level function decorated with
  ``@check("<literal id>")``; a check generated from a top-level table (a
  list / tuple / set / dict literal) loses its table element (the element
  holding, as a string literal, a dot-segment of the generated id: the
  function name, the ANSWERS key ...); a check bound by a top-level
  assignment (``x = make_check(...)``) loses that statement. Then every
  top-level function, class or assignment that nothing kept uses any more
  is removed, repeatedly (so helpers of hidden checks go too).
* ``checks/points.toml``: the public rows only; question totals are the
  public points (questions without public checks are left out).
* ``reference/qN_*.py``: only the modules the kept checks import, and in
  them only what the kept checks reach: names used as ``ref.NAME`` (or
  imported by name, or appearing as a string literal in the kept checks,
  for ``getattr(ref, row.name)``), plus everything those names use. Entries
  of dict literals keyed by an ANSWERS key that only hidden checks read
  (``answers()["q5d_books"]`` ...) are removed, so hidden answer values
  never ship. ``checks/_*.py`` helpers, ``checks/__init__.py`` and module
  docstrings ship as they are: keep answers out of them.
* Never: hidden checks, ``.cache/`` (cached reference data), the points
  part-files, tests, tools.

The builder fails (and writes nothing) when it cannot apply these rules,
e.g. a table element that generates both a hidden and a public check, a
generated hidden check it cannot trace to a table element or assignment, or
kept code that still reads a name that went with a hidden check.
It then verifies the kit in a fresh interpreter (``python -I``): the kit's
registry must hold exactly the public checks with no configuration
problem, every reference name the kept checks use must still exist, and no
file may contain a hidden check's id.
"""
from __future__ import annotations

import ast
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
KIT_MARKER = ".hw11-kit"
PACKAGES = ("checks", "reference")
COPY_WHOLE = ("hw11grader", "experiments")
TEMPLATE_FILES = ("student_template/hw11.py", "student_template/hw11.ipynb")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


class KitError(Exception):
    """The kit cannot be built without risking a leak (a rule of the module docstring is broken)."""


# ---------------------------------------------------------------- source surgery

class Source:
    """A module's text with byte-range edits (ast offsets are UTF-8 byte offsets)."""

    def __init__(self, text: str):
        self.data = text.encode("utf-8")
        self.line_starts = [0]
        for i, b in enumerate(self.data):
            if b == 10:
                self.line_starts.append(i + 1)
        self.edits = []  # (start, end, replacement bytes)

    def offset(self, lineno, col):
        return self.line_starts[lineno - 1] + col

    def _line_start(self, pos):
        return self.data.rfind(b"\n", 0, pos) + 1

    def _line_end(self, pos):  # index just past the newline
        end = self.data.find(b"\n", pos)
        return len(self.data) if end < 0 else end + 1

    def remove_statement(self, node):
        """Whole lines of a top-level statement, with its decorators and the comment block just above."""
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        start = self.line_starts[first - 1]
        while True:  # comment lines directly above (no blank line between) describe it: they go too
            prev = self._line_start(start - 1) if start > 0 else 0
            if start == 0 or not self.data[prev:start].strip().startswith(b"#"):
                break
            start = prev
        end = self._line_end(self.offset(node.end_lineno, node.end_col_offset))
        self.edits.append((start, end, b""))

    def segment(self, first, last) -> str:
        return self.data[self.offset(first.lineno, first.col_offset):
                         self.offset(last.end_lineno, last.end_col_offset)].decode("utf-8")

    def keep_elements(self, node, keep):
        """Rewrite the literal ``node`` (list, tuple, set or dict) with only the elements where
        ``keep`` is true, from their own source text (comments inside the literal are dropped:
        they may describe what was removed)."""
        if isinstance(node, ast.Dict):
            segs = [("**" + self.segment(v, v)) if k is None else self.segment(k, v)
                    for k, v, ok in zip(node.keys, node.values, keep) if ok]
            items = node.values
        else:
            segs = [self.segment(e, e) for e, ok in zip(node.elts, keep) if ok]
            items = node.elts
        opening, closing = {"List": "[]", "Tuple": "()", "Set": "{}", "Dict": "{}"}[type(node).__name__]
        if isinstance(node, ast.Set) and not segs:
            opening, closing = "set(", ")"
        start = self.offset(node.lineno, node.col_offset)
        end = self.offset(node.end_lineno, node.end_col_offset)
        if node.lineno == node.end_lineno:
            body = ", ".join(segs) + ("," if isinstance(node, ast.Tuple) and len(segs) == 1 else "")
        elif segs:
            first = node.keys[0] if isinstance(node, ast.Dict) and node.keys[0] is not None else items[0]
            line = self.data[self._line_start(start):start].decode("utf-8")
            base = " " * (len(line) - len(line.lstrip()))
            indent = base + "    " if first.lineno == node.lineno else " " * first.col_offset
            rows = []  # short elements share a line, as in the original layout
            for seg in segs:
                if rows and "\n" not in seg and "\n" not in rows[-1] and len(rows[-1]) + len(seg) + 2 <= 96 - len(indent):
                    rows[-1] += f" {seg},"
                else:
                    rows.append(f"{seg},")
            body = "".join(f"\n{indent}{row}" for row in rows) + "\n" + base
        else:
            body = ""
        rest = self.data[end:self._line_end(end)]
        if rest.lstrip(b" \t").startswith(b"#"):  # a trailing comment may be about what was removed
            end += len(rest.rstrip(b"\n"))
        self.edits.append((start, end, (opening + body + closing).encode("utf-8")))

    def text(self) -> str:
        data = self.data
        merged = []  # non-overlapping, in order; a replacement inside a removed range disappears with it
        for start, end, new in sorted(self.edits, key=lambda e: (e[0], -e[1])):
            if merged and start < merged[-1][1]:
                last = merged[-1]
                merged[-1] = (last[0], max(last[1], end), last[2] if last[1] >= end else b"")
            else:
                merged.append((start, end, new))
        out, pos = [], 0
        for start, end, new in merged:
            out += [data[pos:start], new]
            pos = end
        out.append(data[pos:])
        text = b"".join(out).decode("utf-8")
        while "\n\n\n\n" in text:
            text = text.replace("\n\n\n\n", "\n\n\n")
        return text


# ---------------------------------------------------------------- analysis helpers

def _strings(node, skip=()):
    out = set()
    for n in ast.walk(node):
        if n in skip:
            continue
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            out.add(n.value)
    return out


def _names_used(node) -> set:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _check_decorator(dec):
    """The ``@check(...)`` call, or None."""
    if isinstance(dec, ast.Call):
        f = dec.func
        if (isinstance(f, ast.Name) and f.id == "check") or (isinstance(f, ast.Attribute) and f.attr == "check"):
            return dec
    return None


def _literal_check_id(stmt):
    for dec in getattr(stmt, "decorator_list", []):
        call = _check_decorator(dec)
        if call is not None and call.args and isinstance(call.args[0], ast.Constant) \
                and isinstance(call.args[0].value, str):
            return call.args[0].value
    return None


def _decorator_strings(tree) -> set:
    """String nodes inside @check(...) decorators (ids, ``uses=``, ``answers=``)."""
    out = set()
    for n in ast.walk(tree):
        for dec in getattr(n, "decorator_list", []) or []:
            call = _check_decorator(dec)
            if call is not None:
                out.update(x for x in ast.walk(call) if isinstance(x, ast.Constant))
    for n in ast.walk(tree):  # check("id", uses=...)(fn) used as a plain call
        call = _check_decorator(n) if isinstance(n, ast.Call) else None
        if call is not None:
            out.update(x for x in ast.walk(call) if isinstance(x, ast.Constant))
    return out


def _defined(stmt) -> set:
    """Names a top-level statement defines (for the removable kinds), else empty."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
    names = set()
    for t in targets:
        for n in ast.walk(t):
            if isinstance(n, ast.Name):
                names.add(n.id)
            elif not isinstance(n, (ast.Tuple, ast.List, ast.Store, ast.Starred)):
                return set()  # x[...] = ..., x.y = ...: not a plain definition
    return names


def _removable(stmt) -> bool:
    names = _defined(stmt)
    if not names or any(n.startswith("__") and n.endswith("__") for n in names):
        return False
    return _literal_check_id(stmt) is None


def top_level_names(tree) -> set:
    names = set()
    for stmt in tree.body:
        names |= _defined(stmt)
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in stmt.names}
    return names


def prune_unused(text: str, roots=frozenset(), protect=frozenset()) -> tuple:
    """Remove top-level definitions nothing else uses, until none is left; returns (text, removed names)."""
    removed = set()
    while True:
        tree = ast.parse(text)
        uses = {}
        for stmt in tree.body:
            # __all__ lists names as strings: that is an index, not a use
            uses[id(stmt)] = _names_used(stmt) | (set() if "__all__" in _defined(stmt) else _strings(stmt))
        dead = []
        for stmt in tree.body:
            names = _defined(stmt)
            if not _removable(stmt) or names & (set(roots) | set(protect)):
                continue
            used_elsewhere = any(names & uses[id(other)] for other in tree.body if other is not stmt)
            if not used_elsewhere:
                dead.append(stmt)
        if not dead:
            return text, removed
        src = Source(text)
        for stmt in dead:
            src.remove_statement(stmt)
            removed |= _defined(stmt)
        text = src.text()


def global_loads(tree) -> set:
    """Names read as globals anywhere in a module (a simple scope analysis: a name a function
    binds, as a parameter or a target, is local to it and to the functions inside it)."""
    found = set()

    def bound(fn):
        a = fn.args
        names = {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs}
        names |= {x.arg for x in (a.vararg, a.kwarg) if x is not None}
        for n in ast.walk(fn):
            if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
                names.add(n.id)
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n is not fn:
                names.add(n.name)
            elif isinstance(n, (ast.Import, ast.ImportFrom)):
                names |= {(x.asname or x.name).split(".")[0] for x in n.names}
            elif isinstance(n, ast.ExceptHandler) and n.name:
                names.add(n.name)
        return names

    def visit(node, local):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for d in getattr(node, "decorator_list", []) + node.args.defaults + node.args.kw_defaults:
                if d is not None:
                    visit(d, local)
            inner = local | bound(node)
            for child in (node.body if isinstance(node.body, list) else [node.body]):
                visit(child, inner)
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local:
            found.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child, local)

    for stmt in tree.body:
        visit(stmt, frozenset())
    return found


def check_nothing_dangles(original: str, filtered: str, filename: str):
    """Refuse a filtered module that still reads a top-level name the filtering removed."""
    before, after = ast.parse(original), ast.parse(filtered)
    gone = top_level_names(before) - top_level_names(after)
    dangling = sorted(gone & global_loads(after))
    if dangling:
        raise KitError(f"{filename}: kept code still uses {', '.join(dangling)}, which went with a hidden "
                       "check; move what public checks need out of the hidden check")


# ---------------------------------------------------------------- imports between content modules

def content_imports(tree, package: str, modules: dict) -> tuple:
    """(aliases, direct): ``alias -> (pkg, module)`` (``(pkg, None)`` for a bare package) and
    a list of ``(pkg, module, name)`` imported by name. ``modules``: pkg -> set of module names."""
    aliases, direct = {}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] in modules:
                    if len(parts) == 2 and a.asname:
                        aliases[a.asname] = (parts[0], parts[1])
                    else:
                        aliases[parts[0]] = (parts[0], None)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = package
                mod = node.module
            else:
                parts = (node.module or "").split(".")
                if parts[0] not in modules:
                    continue
                pkg, mod = parts[0], (parts[1] if len(parts) > 1 else None)
            for a in node.names:
                if mod is None:
                    if a.name in modules.get(pkg, ()):
                        aliases[a.asname or a.name] = (pkg, a.name)
                else:
                    direct.append((pkg, mod, a.name))
    return aliases, direct


def content_uses(tree, package, modules) -> dict:
    """(pkg, module) -> names this module reaches in it (attributes, imports, string literals)."""
    aliases, direct = content_imports(tree, package, modules)
    uses = {}
    for pkg, mod, name in direct:
        uses.setdefault((pkg, mod), set()).add(name)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            pkg, mod = aliases[node.value.id]
            if mod is not None:
                uses.setdefault((pkg, mod), set()).add(node.attr)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) \
                and isinstance(node.value.value, ast.Name):  # reference.q5_chinchilla.NAME
            pkg, mod = aliases.get(node.value.value.id, (None, ""))
            if mod is None and node.value.attr in modules.get(pkg, ()):
                uses.setdefault((pkg, node.value.attr), set()).add(node.attr)
    # modules imported whole get an entry even when only used dynamically
    for pkg, mod in aliases.values():
        if mod is not None:
            uses.setdefault((pkg, mod), set())
    return uses


# ---------------------------------------------------------------- the plan

@dataclass
class Plan:
    files: dict = field(default_factory=dict)  # relative path in the kit -> text
    copies: dict = field(default_factory=dict)  # relative path in the kit -> source path (files and folders)
    public_ids: list = field(default_factory=list)
    hidden_ids: list = field(default_factory=list)
    withheld: dict = field(default_factory=dict)  # "reference/q7_compression.py" -> removed names
    withheld_keys: list = field(default_factory=list)  # ANSWERS keys only hidden checks read
    not_shipped: list = field(default_factory=list)  # reference modules left out entirely
    reference_roots: dict = field(default_factory=dict)  # module -> names the kept checks use


def _module_specs(module):
    """{variable name: CheckSpec} of the checks a checks module defines."""
    found = {}
    for name, value in vars(module).items():
        spec = getattr(value, "__hw11_check__", None)
        if spec is not None and getattr(value, "__module__", None) == module.__name__:
            found[name] = spec
    return found


def filter_check_module(text: str, keep: set, defined: dict, filename="checks module") -> tuple:
    """(filtered text, removed ids) of one checks module.

    ``defined``: variable name -> check id of every check the module defines
    (from importing it); ``keep``: the ids that ship (the public ones)."""
    tree = ast.parse(text)
    src = Source(text)
    ids = set(defined.values())
    literal = {}
    for stmt in tree.body:
        cid = _literal_check_id(stmt)
        if cid is not None:
            literal[cid] = stmt
            if cid not in keep:
                src.remove_statement(stmt)
    generated = ids - set(literal)
    hidden_generated = generated - keep
    # a segment of an id identifies it only if every generated id holding it has the same fate
    fate = {}
    for cid in generated:
        for seg in cid.split(".")[1:]:
            fate.setdefault(seg, set()).add(cid in keep)
    distinctive = {cid: {seg for seg in cid.split(".")[1:] if len(fate[seg]) == 1} for cid in generated}
    covered = set()
    holders = {name: cid for name, cid in defined.items() if cid in generated}
    for stmt in tree.body:  # x = make_check(...): the statement goes with a hidden check
        bound = _defined(stmt) if isinstance(stmt, (ast.Assign, ast.AnnAssign)) else set()
        bound_ids = {holders[n] for n in bound if n in holders}
        if bound_ids and bound_ids <= hidden_generated:
            src.remove_statement(stmt)
            covered |= bound_ids
        elif bound_ids & hidden_generated:
            raise KitError(f"{filename}, line {stmt.lineno}: one statement binds both hidden and public checks")
    for stmt in tree.body:  # tables of generated checks
        value = getattr(stmt, "value", None)
        if not isinstance(stmt, (ast.Assign, ast.AnnAssign)) or not isinstance(
                value, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
            continue
        if isinstance(value, ast.Dict):
            elements = [[n for n in (k, v) if n is not None] for k, v in zip(value.keys, value.values)]
        else:
            elements = [[e] for e in value.elts]
        mask = []
        for nodes in elements:
            strings = set().union(*(_strings(n) for n in nodes))
            matched = {cid for cid in generated if distinctive[cid] & strings}
            if matched & hidden_generated and not matched <= hidden_generated:
                raise KitError(f"{filename}, line {nodes[0].lineno}: one table element generates both hidden "
                               f"and public checks ({', '.join(sorted(matched))}); give each its own element")
            drop = bool(matched) and matched <= hidden_generated
            covered |= matched if drop else set()
            mask.append(not drop)
        if not all(mask):
            src.keep_elements(value, mask)
    left = hidden_generated - covered
    if left:
        raise KitError(f"{filename}: cannot remove the hidden check(s) {', '.join(sorted(left))}: generate them "
                       "from a top-level table literal whose element holds a segment of the id as a string, "
                       "or decorate a top-level function with @check(\"<literal id>\")")
    return src.text(), ids - keep


def filter_reference_module(text: str, roots: set, hidden_keys=(), filename="reference module") -> tuple:
    """(filtered text, removed top-level names): only what ``roots`` reach; dict entries keyed by a
    hidden-only ANSWERS key removed."""
    tree = ast.parse(text)
    src = Source(text)
    hidden_keys = set(hidden_keys)
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keep = [not (isinstance(k, ast.Constant) and k.value in hidden_keys) for k in node.keys]
            if not all(keep):
                src.keep_elements(node, keep)
    text = src.text()
    original = top_level_names(tree)
    text, removed = prune_unused(text, roots=roots)
    if removed:  # __all__ names what is left
        tree = ast.parse(text)
        src = Source(text)
        for stmt in tree.body:
            if "__all__" in _defined_any(stmt) and isinstance(stmt.value, (ast.List, ast.Tuple)):
                keep = [not (isinstance(e, ast.Constant) and e.value in removed) for e in stmt.value.elts]
                if not all(keep):
                    src.keep_elements(stmt.value, keep)
        text = src.text()
    return text, sorted(removed & original)


def _defined_any(stmt):
    if isinstance(stmt, ast.Assign):
        return {t.id for t in stmt.targets if isinstance(t, ast.Name)}
    return set()


def _modules_named(strings, names) -> set:
    """Modules a string names: ``"reference.x"`` (``python -m``) or ``"x.py"`` (a file read or hashed)."""
    found = set()
    for s in strings:
        for candidate in (s.rsplit(".", 1)[-1] if s.startswith("reference.") else None,
                          s[:-3] if s.endswith(".py") else None):
            if candidate in names:
                found.add(candidate)
    return found


def plan_kit(repo: Path = REPO_DIR) -> Plan:
    """Everything the kit will hold (imports the repo's checks to learn what they define)."""
    from .registry import load_content

    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    content = load_content()
    plan = Plan()
    public = {e.id for e in content.entries if e.visibility == "public"}
    plan.public_ids = [e.id for e in content.entries if e.visibility == "public"]
    modules = {pkg: {p.stem for p in (repo / pkg).glob("*.py") if p.stem != "__init__"} for pkg in PACKAGES}
    check_modules = sorted(m for m in modules["checks"] if m.startswith("q"))
    public_keys, hidden_keys = set(), set()
    all_ids = set()
    for name in check_modules:
        for spec in _module_specs(importlib.import_module(f"checks.{name}")).values():
            all_ids.add(spec.id)
            (public_keys if spec.id in public else hidden_keys).update(spec.answers)
    plan.hidden_ids = sorted(all_ids - public)
    only_hidden_keys = hidden_keys - public_keys
    plan.withheld_keys = sorted(only_hidden_keys)

    # checks: drop hidden checks, then what only they used (cross-module imports are roots)
    filtered, holders, originals = {}, {}, {}
    for name in check_modules:
        module = importlib.import_module(f"checks.{name}")
        defined = {var: spec.id for var, spec in _module_specs(module).items()}
        text = originals[name] = (repo / "checks" / f"{name}.py").read_text(encoding="utf-8")
        filtered[name], _ = filter_check_module(text, public, defined, f"checks/{name}.py")
        holders[name] = {var for var, cid in defined.items() if cid in public}
    trees = {name: ast.parse(text) for name, text in filtered.items()}
    cross = {}
    for name, tree in trees.items():
        for (pkg, mod), names in content_uses(tree, "checks", modules).items():
            if pkg == "checks":
                cross.setdefault(mod, set()).update(names)
    for name in check_modules:
        filtered[name], _ = prune_unused(filtered[name], roots=cross.get(name, set()) | holders[name])
        check_nothing_dangles(originals[name], filtered[name], f"checks/{name}.py")
        plan.files[f"checks/{name}.py"] = filtered[name]
    for path in sorted((repo / "checks").glob("*.py")):
        if not path.stem.startswith("q"):
            plan.copies[f"checks/{path.name}"] = path
    plan.files["checks/points.toml"] = points_toml(content)

    # reference: the modules the kept checks (and the helpers) import, reduced to what they reach
    ref_names = {m: top_level_names(ast.parse((repo / "reference" / f"{m}.py").read_text(encoding="utf-8")))
                 for m in modules["reference"]}
    shipped = dict(filtered)
    for rel, path in plan.copies.items():
        if rel.endswith(".py"):
            shipped[rel] = path.read_text(encoding="utf-8")
    roots = {}
    for text in shipped.values():
        tree = ast.parse(text)
        strings = _strings(tree, skip=_decorator_strings(tree))
        for (pkg, mod), names in content_uses(tree, "checks", modules).items():
            if pkg == "reference":
                roots.setdefault(mod, set()).update(names | (strings & ref_names[mod]))
        for mod in _modules_named(strings, modules["reference"]):
            roots.setdefault(mod, set())
    done = {}
    while True:  # reference modules use one another (imports, `-m reference.x`, hashed file names)
        pending = [m for m in roots if done.get(m) != roots[m]]
        if not pending:
            break
        for mod in pending:
            done[mod] = set(roots[mod])
            text = (repo / "reference" / f"{mod}.py").read_text(encoding="utf-8")
            out, removed = filter_reference_module(text, roots[mod], only_hidden_keys, f"reference/{mod}.py")
            check_nothing_dangles(text, out, f"reference/{mod}.py")
            plan.files[f"reference/{mod}.py"] = out
            plan.withheld[f"reference/{mod}.py"] = removed
            tree = ast.parse(out)
            for (pkg, other), names in content_uses(tree, "reference", modules).items():
                if pkg == "reference" and other != mod:
                    roots.setdefault(other, set()).update(names)
            for other in _modules_named(_strings(tree), modules["reference"]):
                if other != mod:
                    roots.setdefault(other, set())
    plan.reference_roots = {m: sorted(n) for m, n in roots.items()}
    plan.not_shipped = sorted(m for m in modules["reference"] if m not in roots)
    if (repo / "reference" / "__init__.py").exists():
        plan.copies["reference/__init__.py"] = repo / "reference" / "__init__.py"

    for folder in COPY_WHOLE:
        plan.copies[folder] = repo / folder
    plan.copies["grader.py"] = repo / "grader.py"
    plan.copies["requirements.lock"] = repo / "requirements.lock"
    for rel in TEMPLATE_FILES:
        plan.copies[Path(rel).name] = repo / rel
    hidden_points = sum(e.points for e in content.entries if e.visibility == "hidden")
    plan.files["README.md"] = KIT_README.format(hidden_points=f"{hidden_points:g}", checks=len(plan.public_ids))
    plan.files[KIT_MARKER] = "HW11 student kit (built by grader.py build student)\n"
    return plan


def points_toml(content) -> str:
    lines = ["# Points of the PUBLIC checks of HW11 (the student kit). Hidden checks run only",
             "# at grading time; their points are not listed here.", ""]
    public = [e for e in content.entries if e.visibility == "public"]
    for q in content.questions:
        points = sum(e.points for e in public if e.question == q.id)
        if points > 0:
            lines += [f"[questions.{q.id}]", f"title = {json.dumps(q.title)}", f"points = {points:g}", ""]
    lines.append("[checks]")
    for e in public:
        lines.append(f'{json.dumps(e.id)} = {{ points = {e.points:g}, visibility = "public" }}')
    return "\n".join(lines) + "\n"


KIT_README = """# HW11 self-check kit

Check your homework before you submit it. This kit runs the {checks} public
checks of the autograder; the hidden checks ({hidden_points} points) run only
at grading time.

Set-up (Python 3.11), once:

```
python3.11 -m venv .venv
.venv/bin/python -m pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.lock
```

Then, in this folder (with your hw11.ipynb or hw11.py here):

```
.venv/bin/python grader.py              # grades ./hw11.ipynb (else ./hw11.py)
.venv/bin/python grader.py hw11.py -q q1 q5
```

Each failing check shows the input that failed, what came back, what was
expected and a hint. Your code runs in a separate process.
"""


# ---------------------------------------------------------------- writing and verifying

def write_kit(plan: Plan, out: Path):
    out.mkdir(parents=True)
    for rel, source in plan.copies.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=IGNORE)
        else:
            shutil.copy2(source, target)
    for rel, text in plan.files.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    for root, dirs, files in os.walk(out):  # readable by the student, whatever the repo's modes
        os.chmod(root, 0o755)
        for f in files:
            p = os.path.join(root, f)
            os.chmod(p, 0o755 if f == "grader.py" else 0o644)


VERIFY = r"""
import importlib, json, sys
kit = sys.argv[1]
sys.path.insert(0, kit)
roots = json.loads(sys.argv[2])
from hw11grader.registry import load_content
import checks, reference
c = load_content()
missing = []
for mod, names in roots.items():
    m = importlib.import_module("reference." + mod)
    missing += [mod + "." + n for n in names if not hasattr(m, n)]
print(json.dumps({"ids": [e.id for e in c.entries], "visibility": sorted({e.visibility for e in c.entries}),
                  "problems": list(c.problems), "missing": missing,
                  "files": [checks.__file__, reference.__file__]}))
"""


def verify(kit: Path, plan: Plan, python=sys.executable) -> list:
    """Problems with a written kit (empty when it is sound)."""
    problems = []
    existing = {}
    for mod, names in plan.reference_roots.items():
        original = importlib.import_module(f"reference.{mod}")
        existing[mod] = [n for n in names if hasattr(original, n)]
    proc = subprocess.run([python, "-I", "-B", "-c", VERIFY, str(kit), json.dumps(existing)], cwd=kit,
                          capture_output=True, text=True, timeout=300, env=_clean_env())
    if proc.returncode != 0:
        return [f"the kit does not load in a fresh interpreter:\n{proc.stderr[-3000:]}"]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    if sorted(got["ids"]) != sorted(plan.public_ids):
        extra = sorted(set(got["ids"]) - set(plan.public_ids))
        lost = sorted(set(plan.public_ids) - set(got["ids"]))
        problems.append(f"the kit's checks differ from the public checks (extra: {extra}; lost: {lost})")
    if got["visibility"] not in ([], ["public"]):
        problems.append(f"the kit has non-public checks: {got['visibility']}")
    problems += [f"kit configuration: {p}" for p in got["problems"]]
    problems += [f"reference name lost although a public check uses it: {m}" for m in got["missing"]]
    if not all(str(f).startswith(str(kit)) for f in got["files"]):
        problems.append(f"the kit imported content from outside itself: {got['files']}")
    for path in kit.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for cid in plan.hidden_ids:
                if cid.encode() in data:
                    problems.append(f"{path.relative_to(kit)} contains the hidden check id {cid}")
    return problems


def _clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def main(out) -> int:
    out = Path(out).resolve()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / KIT_MARKER).exists())):
        print(f"grader.py build student: {out} exists and is not an earlier kit; choose a new folder",
              file=sys.stderr)
        return 2
    try:
        plan = plan_kit()
    except KitError as e:
        print(f"grader.py build student: refusing to build a kit that could leak: {e}", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".hw11-kit-", dir=out.parent)) / "kit"
    try:
        write_kit(plan, staging)
        problems = verify(staging, plan)
        if problems:
            print("grader.py build student: the kit failed its verification; nothing written:\n  "
                  + "\n  ".join(problems), file=sys.stderr)
            return 1
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging.parent, ignore_errors=True)
    withheld = "; ".join(f"{k}: {', '.join(v)}" for k, v in plan.withheld.items() if v) or "none"
    print(f"wrote the student kit to {out}: {len(plan.public_ids)} public checks; "
          f"{len(plan.hidden_ids)} hidden checks left out\n"
          f"  reference code withheld: {withheld}\n"
          f"  ANSWERS keys whose values are withheld: {', '.join(plan.withheld_keys) or 'none'}\n"
          f"  reference modules not shipped: {', '.join(plan.not_shipped) or 'none'}")
    return 0
