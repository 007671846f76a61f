"""Every check is findable by its id: ``grep -rn '"q5.burgers.matches_reference"' checks/`` lands on its ``@check``.

Checks are module-level functions whose ``@check("...")`` spells the id out;
none is made in a loop and put into the module through ``globals()``.
"""
import ast
import re
import tomllib
from pathlib import Path

import pytest

CHECKS = Path(__file__).resolve().parent.parent / "checks"


def _sources():
    return {p: p.read_text(encoding="utf-8") for p in sorted(CHECKS.rglob("*.py"))}


def _ids():
    with open(CHECKS / "points.toml", "rb") as f:
        return list(tomllib.load(f)["checks"])


def test_points_toml_lists_checks():
    assert len(_ids()) > 100


def test_every_check_id_is_written_out_literally():
    texts = list(_sources().values())
    absent = [cid for cid in _ids()
              if not any(f'"{cid}"' in t or f"'{cid}'" in t for t in texts)]
    assert not absent, (f"{len(absent)} check ids of points.toml occur in no checks/**/*.py as a quoted "
                        f"string (write the id out in its @check(...)): {absent}")


def _namespace_call(node):
    """``globals()``, ``vars()`` (no argument) or ``locals()``."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in ("globals", "locals", "vars") and not node.args and not node.keywords)


def _namespace_writes(tree):
    """Lines where a module's namespace is written through globals()/vars()/locals()."""
    out = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        for t in targets:
            for sub in ast.walk(t):
                if isinstance(sub, ast.Subscript) and _namespace_call(sub.value):
                    out.append(node.lineno)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("update", "setdefault", "__setitem__", "pop")
                and _namespace_call(node.func.value)):
            out.append(node.lineno)
    return sorted(set(out))


def test_no_check_module_writes_into_globals():
    bad = {}
    for path, text in _sources().items():
        lines = _namespace_writes(ast.parse(text, filename=str(path)))
        if lines:
            bad[str(path.relative_to(CHECKS.parent))] = lines
    assert not bad, f"modules of checks/ that write their namespace through globals() (file: lines): {bad}"


@pytest.mark.parametrize("snippet, found", [
    ('globals()["check_x"] = f', True),
    ('globals()[f"check_{n}"] = make(n)', True),
    ('globals().update({"a": 1})', True),
    ('vars()["a"] = 1', True),
    ('x = globals()["a"]', False),
    ('GLOBALS = {}\nGLOBALS["a"] = 1', False),
])
def test_namespace_writes_are_recognised(snippet, found):
    assert bool(_namespace_writes(ast.parse(snippet))) is found


def test_check_decorators_name_their_id_literally():
    """No ``check(f"...")``: an id built at run time is one grep cannot find."""
    built = []
    for path, text in _sources().items():
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
                    and node.args and not (isinstance(node.args[0], ast.Constant)
                                           and isinstance(node.args[0].value, str))):
                built.append(f"{path.relative_to(CHECKS.parent)}:{node.lineno}")
    assert not built, f"check ids not written as a plain string: {built}"


def test_ids_look_like_ids():
    bad = [cid for cid in _ids() if not re.fullmatch(r"q\d+\.[A-Za-z0-9_.]+", cid)]
    assert not bad
