"""The layout is the architecture: an import-graph test keeps it so.

* no import cycle inside the engine (``hw11grader``), counting imports made
  inside functions too (a lazy import hides a cycle, it does not remove it);
* the child side (``hw11grader/boundary/child/``, copied whole into the
  sandbox) imports nothing outside its folder but the standard library and
  numpy (and torch/sympy, the student's own libraries, only to convert the
  student's values);
* ``reference/`` imports neither the engine nor ``checks/``;
* the engine names no question: no import of a question's module and no
  module name like ``q4_batch`` in its code;
* check modules import the engine only through ``hw11grader.authoring``;
* each staff command imports the engine, never the CLI or another staff command.
"""
import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "hw11grader"
CHILD = ENGINE / "boundary" / "child"
STDLIB = set(sys.stdlib_module_names)
QUESTION_MODULE = re.compile(r"\bq\d+_[a-z]\w*")


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path):
    """(imported module, line) for every import statement in the file, nested ones included."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            yield prefix, node.lineno
            for alias in node.names:  # ``from pkg import module``
                yield f"{prefix}.{alias.name}", node.lineno


def engine_modules():
    return {module_name(p): p for p in ENGINE.rglob("*.py")}


def engine_graph():
    modules = engine_modules()
    graph = {}
    for name, path in modules.items():
        graph[name] = sorted({m for m, _ in imports(path) if m in modules and m != name})
    return graph


def find_cycle(graph):
    state, stack = {}, []

    def visit(n):
        state[n] = "open"
        stack.append(n)
        for m in graph.get(n, ()):
            if m.startswith(n + "."):  # a package importing its own submodule is no cycle of meaning
                continue
            if state.get(m) == "open":
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = "done"
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_the_engine_has_no_import_cycle():
    assert find_cycle(engine_graph()) is None, " -> ".join(find_cycle(engine_graph()))


def test_find_cycle_finds_one():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": ["c"], "c": []}) is None


def test_the_child_side_imports_only_its_folder_stdlib_and_numpy():
    own = {module_name(p) for p in CHILD.glob("*.py")} | {p.stem for p in CHILD.glob("*.py")}
    bad = []
    for path in CHILD.glob("*.py"):
        for mod, line in imports(path):
            top = mod.split(".")[0]
            if mod in own or mod.startswith("hw11grader.boundary.child") or top in STDLIB:
                continue
            if top in ("numpy", "torch", "sympy"):  # the student's libraries, to convert its values
                continue
            bad.append(f"{path.name}:{line} imports {mod}")
    assert not bad, bad


def test_the_child_is_copied_whole():
    from hw11grader import boundary
    assert boundary.CHILD_DIR == CHILD
    source = (ENGINE / "boundary" / "__init__.py").read_text()
    assert 'CHILD_DIR.glob("*.py")' in source


def test_reference_imports_neither_the_engine_nor_checks():
    bad = [f"{p.name}:{line} imports {m}" for p in (ROOT / "reference").glob("*.py")
           for m, line in imports(p) if m.split(".")[0] in ("hw11grader", "checks")]
    assert not bad, bad


def test_the_engine_names_no_question():
    bad = []
    for name, path in engine_modules().items():
        for mod, line in imports(path):
            if QUESTION_MODULE.search(mod) or mod.split(".")[0] == "checks" and mod != "checks":
                bad.append(f"{name}:{line} imports {mod}")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and QUESTION_MODULE.search(node.value):
                bad.append(f"{name}:{node.lineno} names {QUESTION_MODULE.search(node.value).group(0)}")
    assert not bad, bad


def test_checks_import_the_engine_only_through_authoring():
    bad = [f"{p.relative_to(ROOT)}:{line} imports {m}" for p in (ROOT / "checks").rglob("*.py")
           for m, line in imports(p)
           if m.split(".")[0] == "hw11grader" and not m.startswith("hw11grader.authoring")]
    assert not bad, bad


def test_staff_commands_import_neither_the_cli_nor_each_other():
    staff = {module_name(p) for p in (ENGINE / "staff").glob("*.py") if p.name != "__init__.py"}
    bad = []
    for path in (ENGINE / "staff").glob("*.py"):
        me = module_name(path)
        for mod, line in imports(path):
            if mod in ("hw11grader.cli", "hw11grader.commands") or (mod in staff and mod != me):
                bad.append(f"{me}:{line} imports {mod}")
    assert not bad, bad


@pytest.mark.parametrize("rule", ["cycle", "child", "question"])
def test_the_rules_catch_a_planted_violation(tmp_path, monkeypatch, rule):
    """Each rule fails on a file that breaks it (so none of them passes vacuously)."""
    global ENGINE, CHILD, ROOT
    root = tmp_path
    engine = root / "hw11grader"
    child = engine / "boundary" / "child"
    child.mkdir(parents=True)
    for p in (engine / "__init__.py", engine / "boundary" / "__init__.py", child / "__init__.py"):
        p.write_text("")
    if rule == "cycle":
        (engine / "a.py").write_text("from hw11grader import b\n")
        (engine / "b.py").write_text("def f():\n    from hw11grader.a import x\n")
    elif rule == "child":
        (child / "child_main.py").write_text("import checks.q1_lora\nfrom . import wire\n")
        (child / "wire.py").write_text("import json\n")
    else:
        (engine / "c.py").write_text("import importlib\nM = importlib.import_module('experiments.q4_batch')\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", root)
    monkeypatch.setattr(sys.modules[__name__], "ENGINE", engine)
    monkeypatch.setattr(sys.modules[__name__], "CHILD", child)
    test = {"cycle": test_the_engine_has_no_import_cycle,
            "child": test_the_child_side_imports_only_its_folder_stdlib_and_numpy,
            "question": test_the_engine_names_no_question}[rule]
    with pytest.raises(AssertionError):
        test()
