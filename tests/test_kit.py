"""The student kit: public checks only, no hidden answer, and it works on its own.

The kit's grader is run with the current interpreter, from the kit folder,
in isolated mode (``python -I``: no PYTHONPATH, no user site, no script
folder added by Python), so nothing can come from this repository.
"""
import ast
import importlib
import inspect
import json
import math
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT, SUBMISSIONS, run_grader


# ---------------------------------------------------------------- the filtering rules, on small sources

CHECKS = '''
"""A checks module."""
from hw11grader.checking import check
from reference import q9 as ref

TOL = 0.1  # the hidden check's tolerance


def _only_hidden(x):
    return ref.secret_solver(x)


def _shared(x):
    return ref.public_solver(x)


@check("q9.f.public")
def f_public(sub):
    return _shared(1)


# about the hidden check
@check("q9.f.hidden")
def f_hidden(sub):
    return _only_hidden(TOL)


KEYS = ["q9a", "q9b_secret",
        "q9c_secret"]  # a comment


def _make(key):
    def answer(sub):
        return ref.answers()[key]
    return check(f"q9.answers.{key}", answers=key)(answer)


for _key in KEYS:
    globals()["answer_" + _key] = _make(_key)
'''

DEFINED = {"f_public": "q9.f.public", "f_hidden": "q9.f.hidden", "answer_q9a": "q9.answers.q9a",
           "answer_q9b_secret": "q9.answers.q9b_secret", "answer_q9c_secret": "q9.answers.q9c_secret"}
PUBLIC = {"q9.f.public", "q9.answers.q9a"}


def test_hidden_checks_their_helpers_and_their_table_rows_are_removed():
    from hw11grader.kit import filter_check_module, prune_unused
    text, removed = filter_check_module(CHECKS, PUBLIC, DEFINED, "q9.py")
    text, _ = prune_unused(text)
    assert removed == {"q9.f.hidden", "q9.answers.q9b_secret", "q9.answers.q9c_secret"}
    for gone in ("q9.f.hidden", "f_hidden", "_only_hidden", "secret_solver", "TOL", "q9b_secret", "q9c_secret",
                 "about the hidden check", "a comment"):
        assert gone not in text, gone
    for kept in ('@check("q9.f.public")', "_shared", "public_solver", '"q9a"', "def _make", "for _key in KEYS"):
        assert kept in text, kept
    compile(text, "q9.py", "exec")  # still valid Python


def test_a_table_row_generating_a_hidden_and_a_public_check_is_refused():
    from hw11grader.kit import KitError, filter_check_module
    source = CHECKS.replace('KEYS = ["q9a", "q9b_secret",', 'KEYS = [("q9a", "q9b_secret"),')
    with pytest.raises(KitError, match="both hidden and public"):
        filter_check_module(source, PUBLIC, DEFINED, "q9.py")


def test_a_hidden_check_that_cannot_be_traced_is_refused():
    from hw11grader.kit import KitError, filter_check_module
    source = CHECKS.replace('KEYS = ["q9a", "q9b_secret",\n        "q9c_secret"]',
                            'KEYS = "q9a q9b_secret q9c_secret".split()')
    with pytest.raises(KitError, match="cannot remove"):
        filter_check_module(source, PUBLIC, DEFINED, "q9.py")


def test_public_code_that_still_needs_a_removed_hidden_check_is_refused():
    from hw11grader.kit import KitError, check_nothing_dangles, filter_check_module, prune_unused
    source = CHECKS.replace("    return _shared(1)", "    return f_hidden(sub) + _shared(1)")
    text, _ = filter_check_module(source, PUBLIC, DEFINED, "q9.py")
    text, _ = prune_unused(text)
    with pytest.raises(KitError, match="f_hidden"):
        check_nothing_dangles(source, text, "q9.py")
    clean, _ = prune_unused(filter_check_module(CHECKS, PUBLIC, DEFINED, "q9.py")[0])
    check_nothing_dangles(CHECKS, clean, "q9.py")  # the normal filtering leaves nothing dangling


REFERENCE = '''
"""A reference module."""
import math

__all__ = ["public_solver", "secret_solver", "answers", "ANSWERS"]
SCALE = 3.0


def _helper(x):
    return x * SCALE


def public_solver(x):
    return _helper(x)


def _secret_helper(x):
    return math.sqrt(x) * 1234.5678


def secret_solver(x):
    return _secret_helper(x)


def answers():
    return {
        "q9a": public_solver(2),  # derived
        "q9b_secret": secret_solver(4),  # 2469.1356
        "q9c_secret": 42,
    }


def __getattr__(name):
    if name == "ANSWERS":
        return dict(answers())
    raise AttributeError(name)
'''


def test_reference_keeps_what_public_checks_reach_and_drops_hidden_answers():
    from hw11grader.kit import filter_reference_module
    text, removed = filter_reference_module(REFERENCE, {"public_solver", "answers"}, {"q9b_secret", "q9c_secret"})
    assert set(removed) == {"secret_solver", "_secret_helper"}
    for gone in ("secret_solver", "_secret_helper", "1234.5678", "2469.1356", "q9b_secret", "q9c_secret", "42"):
        assert gone not in text, gone
    namespace = {}
    exec(compile(text, "q9ref.py", "exec"), namespace)
    assert namespace["answers"]() == {"q9a": 6.0}
    assert namespace["__all__"] == ["public_solver", "answers", "ANSWERS"]


# ---------------------------------------------------------------- the real kit

@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    out = tmp_path_factory.mktemp("kit") / "hw11-kit"
    code, stdout, stderr = run_grader("build", "student", "--out", out)
    assert code == 0, stderr
    return out, stdout


def kit_text(kit):
    out = {}
    for path in kit.rglob("*"):
        if path.is_file() and ".cache" not in path.parts:
            out[path.relative_to(kit).as_posix()] = path.read_bytes().decode("utf-8", "replace")
    return out


def test_the_kit_holds_the_template_the_grader_and_no_secret_folder(kit):
    kit, _ = kit
    for required in ("hw11.py", "hw11.ipynb", "grader.py", "requirements.lock", "README.md",
                     "hw11grader/runner.py", "hw11grader/child_main.py", "experiments/__init__.py",
                     "checks/__init__.py", "checks/points.toml", "reference/__init__.py"):
        assert (kit / required).is_file(), required
    for absent in ("tests", "tools", "bench", ".cache", "student_template"):
        assert not (kit / absent).exists(), absent
    assert not list(kit.glob("checks/*.part.toml"))
    assert not list(kit.rglob("__pycache__"))


def test_no_hidden_check_id_is_anywhere_in_the_kit(kit, content):
    texts = kit_text(kit[0])
    hidden = [e.id for e in content.entries if e.visibility == "hidden"]
    assert hidden
    for cid in hidden:
        leaks = [name for name, text in texts.items() if cid in text]
        assert not leaks, (cid, leaks)


def hidden_only_reference_names(path):
    """ref.NAME used by hidden @check functions and by nothing else in the module (computed apart
    from the builder: it reads the original module's source)."""
    from hw11grader import load_content
    hidden = {e.id for e in load_content().entries if e.visibility == "hidden"}
    tree = ast.parse(path.read_text())
    aliases = {a.asname or a.name: f"reference.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
               and n.module == "reference" for a in n.names}

    def ref_attrs(node):
        return {(aliases[n.value.id], n.attr) for n in ast.walk(node) if isinstance(n, ast.Attribute)
                and isinstance(n.value, ast.Name) and n.value.id in aliases}

    def check_id(stmt):
        for d in getattr(stmt, "decorator_list", []):
            if isinstance(d, ast.Call) and getattr(d.func, "id", None) == "check" and d.args:
                return getattr(d.args[0], "value", None)

    in_hidden, elsewhere = set(), set()
    strings = set()
    for stmt in tree.body:
        if check_id(stmt) in hidden:
            in_hidden |= ref_attrs(stmt)
        else:
            elsewhere |= ref_attrs(stmt)
            strings |= {n.value for n in ast.walk(stmt) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return {(m, n) for m, n in in_hidden - elsewhere if n not in strings and not used_inside(m, n)}


def used_inside(module, name):
    """Whether other code of the reference module itself names ``name`` (e.g. a KNOWN_MISTAKES table
    that public checks read): then public checks may reach it, and it ships."""
    tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())
    for stmt in tree.body:
        defines = getattr(stmt, "name", None) == name
        is_all = isinstance(stmt, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in stmt.targets)
        if not defines and not is_all and any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(stmt)):
            return True
    return False


def test_reference_code_only_hidden_checks_use_is_not_shipped(kit):
    kit, _ = kit
    found = set()
    for path in sorted((ROOT / "checks").glob("q*.py")):
        found |= hidden_only_reference_names(path)
    texts = kit_text(kit)
    for module, name in sorted(found):
        obj = getattr(importlib.import_module(module), name)
        if not callable(obj):
            continue
        source = textwrap.dedent(inspect.getsource(obj))
        body = source.split(":", 1)[1] if source.startswith("def ") else source
        shipped = texts.get(module.replace(".", "/") + ".py", "")
        assert f"def {name}(" not in shipped, (module, name)
        assert body.strip() not in "\n".join(texts.values()), (module, name)
    # today's example: the reference k-means only serves a hidden check
    if ("reference.q7_compression", "kmeans_quantize") in found:
        assert "def kmeans_quantize(" not in texts["reference/q7_compression.py"]


def number_forms(value):
    """A hidden number as it could be written down (only forms specific enough to mean it)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value == 0:
        return set()
    v = float(value)
    forms = {repr(v), f"{v:.4g}", f"{v:.5g}", f"{v:.6g}", f"{v:.3e}", f"{v:.2e}", f"{v:e}"}
    if v == int(v) and abs(v) < 1e16:
        forms |= {str(int(v)), f"{int(v):_}", f"{int(v):,}"}
    # short forms (e.g. "20", "1e+09") would match unrelated text: keep the distinctive ones
    return {f for f in forms if sum(c.isdigit() for c in f.split("e")[0]) >= 4 and f.strip("0.-+e") != ""
            and not set(f.split("e")[0].replace(".", "").replace("-", "").replace("_", "").replace(",", "")) <= {"0", "1"}}


def test_hidden_answer_values_are_not_in_the_kit(kit, content):
    kit, _ = kit
    hidden_keys, public_keys = set(), set()
    for e in content.entries:
        (hidden_keys if e.visibility == "hidden" else public_keys).update(e.spec.answers)
    hidden_keys -= public_keys
    values = {}
    for path in sorted((ROOT / "reference").glob("q*.py")):
        module = importlib.import_module(f"reference.{path.stem}")
        answers = getattr(module, "answers", None)
        if not callable(answers):
            continue
        try:
            table = answers()
        except Exception:  # noqa: BLE001 - a module whose answers need the cache, say
            continue
        values.update({k: v for k, v in table.items() if k in hidden_keys})
    numbers = {k: number_forms(v) for k, v in values.items()}
    assert sum(bool(f) for f in numbers.values()) >= 5, numbers  # Q5's hidden Fermi answers, at least
    texts = "\n".join(kit_text(kit).values())
    for key, forms in numbers.items():
        for form in forms:
            assert form not in texts, (key, form)
    for path in (kit / "reference").glob("*.py"):  # no dict literal keyed by a hidden-only ANSWERS key
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Dict):
                keys = {getattr(k, "value", None) for k in node.keys}
                assert not keys & hidden_keys, (path.name, keys & hidden_keys)


def test_points_toml_lists_the_public_checks_and_public_totals(kit, content):
    import tomllib
    kit, _ = kit
    config = tomllib.loads((kit / "checks" / "points.toml").read_text())
    public = [e for e in content.entries if e.visibility == "public"]
    assert list(config["checks"]) == [e.id for e in public]
    assert {v["visibility"] for v in config["checks"].values()} == {"public"}
    for qid, q in config["questions"].items():
        assert q["points"] == pytest.approx(sum(e.points for e in public if e.question == qid))
        assert q["title"] == content.question(qid).title


def kit_grader(kit, *args, timeout=300):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["NO_COLOR"] = "1"
    env["HW11_CACHE_DIR"] = str(kit.parent / "kit-cache")  # the kit builds its own reference cache
    return subprocess.run([sys.executable, "-I", "grader.py", *map(str, args)], cwd=kit, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_the_kit_grades_the_bundled_template_from_its_own_folder(kit):
    kit, _ = kit
    proc = kit_grader(kit)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "hw11.ipynb" in proc.stdout and "self-check" in proc.stdout
    assert "grader configuration" not in proc.stdout  # no warning about missing rows or totals


def test_the_kit_passes_the_correct_submission_on_exactly_the_public_checks(kit, content, tmp_path):
    kit, _ = kit
    report = tmp_path / "report.json"
    proc = kit_grader(kit, SUBMISSIONS / "correct.py", "--all", "--json", report, "--feedback", tmp_path / "fb")
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(report.read_text())
    assert [c["id"] for c in got["checks"]] == [e.id for e in content.entries if e.visibility == "public"]
    assert {c["visibility"] for c in got["checks"]} == {"public"}
    failing = [(c["id"], c["message"][:300]) for c in got["checks"] if c["status"] != "passed"]
    assert not failing
    assert got["score"] == pytest.approx(sum(e.points for e in content.entries if e.visibility == "public"))


@pytest.mark.slow
def test_the_kit_works_from_a_fresh_virtual_environment(kit, tmp_path):
    """Issue 6: `python grader.py` in the kit, in a new venv built from the kit's pinned requirements."""
    import subprocess
    import sys

    kit, _ = kit
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    install = subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                              "-r", str(kit / "requirements.lock")], capture_output=True, text=True, timeout=1500)
    assert install.returncode == 0, install.stderr[-2000:]
    run = subprocess.run([str(py), "grader.py", "hw11.py", "--no-color", "--feedback", str(tmp_path / "fb")],
                         cwd=kit, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Public score: 0 /" in run.stdout and "GRADER ERROR" not in run.stdout
