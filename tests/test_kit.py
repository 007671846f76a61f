"""The student kit: public checks only, no solution, no reference code, and it grades like the grader.

The kit's grader is run with the current interpreter, from the kit folder,
in isolated mode (``python -I``: no PYTHONPATH, no user site, no script
folder added by Python), so nothing can come from this repository. Building
the kit records the public checks against the correct submission and each
known mistake (a few minutes), so the tests that need a built kit are slow.
"""
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import ROOT, SUBMISSIONS, run_grader

MUTANTS = sorted((SUBMISSIONS / "mutants").glob("*.py"))
pytestmark = pytest.mark.timeout(3600)  # building the kit records 58 gradings; the mutants are graded twice


# ---------------------------------------------------------------- the rules, on small sources

def test_a_hidden_check_outside_checks_hidden_is_refused(tmp_path, monkeypatch):
    """Where a check lives decides what ships: points.toml's visibility must agree with it."""
    from hw11grader.judge.registry import ConfigError, load_content
    pkg = tmp_path / "kitpkg"
    (pkg / "hidden").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "hidden" / "__init__.py").write_text("")
    (pkg / "q9_x.py").write_text("from hw11grader.judge.checking import check\n\n"
                                 "@check('q9.f.public')\ndef f(sub):\n    pass\n\n"
                                 "@check('q9.f.secret')\ndef g(sub):\n    pass\n")
    (pkg / "hidden" / "q9_x.py").write_text("from hw11grader.judge.checking import check\n\n"
                                            "@check('q9.h.hidden')\ndef h(sub):\n    pass\n")
    rows = ('[questions.q9]\ntitle = "x"\npoints = 3\n[checks]\n"q9.f.public" = { points = 1 }\n'
            '"q9.h.hidden" = { points = 1, visibility = "hidden" }\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    (pkg / "points.toml").write_text(rows + '"q9.f.secret" = { points = 1, visibility = "public" }\n')
    content = load_content("kitpkg")
    assert {e.id: e.visibility for e in content.entries} == {
        "q9.f.public": "public", "q9.h.hidden": "hidden", "q9.f.secret": "public"}
    for name in [m for m in sys.modules if m.startswith("kitpkg")]:
        del sys.modules[name]
    (pkg / "points.toml").write_text(rows + '"q9.f.secret" = { points = 1, visibility = "hidden" }\n')
    with pytest.raises(ConfigError, match="q9.f.secret is hidden in points.toml but defined in checks/"):
        load_content("kitpkg")


def test_the_repository_keeps_every_hidden_check_in_checks_hidden(content):
    for e in content.entries:
        in_hidden = e.spec.function.__module__.startswith("checks.hidden.")
        assert in_hidden == (e.visibility == "hidden"), e.id


STUB_AND_WORKING = '''
def qk_matrix(W_Q, W_K):
    """Docstring."""
    raise NotImplementedError

def lora_grads(G, A, B):
    return G @ B.T, A.T @ G

class LoRALinear:
    def __init__(self, W0, k):
        super().__init__()
        raise NotImplementedError

    def forward(self, x):
        raise NotImplementedError("not yet")

def helper():
    def chinchilla_optimal(*a):
        return 1
    return chinchilla_optimal
'''


def test_working_definitions_of_student_api_names_are_found_stubs_are_not():
    from hw11grader.staff.kit import working_definitions
    found = working_definitions(STUB_AND_WORKING, {"qk_matrix", "lora_grads", "LoRALinear", "chinchilla_optimal"},
                                "x.py")
    assert found == ["x.py, line 6: a working lora_grads()", "x.py, line 18: a working chinchilla_optimal()"]
    working_class = "class LoRALinear:\n    def forward(self, x):\n        return x\n"
    assert working_definitions(working_class, {"LoRALinear"}, "y.py") == ["y.py, line 1: a working class LoRALinear"]


def test_the_template_defines_every_api_name_as_a_stub():
    from hw11grader.staff.kit import student_api_names, working_definitions
    names = student_api_names(ROOT)
    assert {"lora_grads", "qk_matrix", "chinchilla_optimal", "LoRALinear", "magnitude_prune"} <= names
    assert working_definitions((ROOT / "student_template" / "hw11.py").read_text(), names, "hw11.py") == []
    assert working_definitions((SUBMISSIONS / "correct.py").read_text(), names, "correct.py")  # the rule can fail


# ---------------------------------------------------------------- the tape, in process

def _recorded(values, answer_key=False):
    from hw11grader.judge import tape
    rec = tape.Recorder()
    tracked = tape._tracked(values, rec)
    return rec, tracked, tape.Encoder(rec, seed="t").encode(tracked, answer_key=answer_key)


def test_tape_values_round_trip_exactly():
    from hw11grader.judge import tape
    value = {"a": [1, 2.5, float("nan")], "b": (np.arange(6, dtype=np.float32).reshape(2, 3), np.int64(7)),
             "c": None, "d": {"e": "text", 3: True}}
    _, tracked, _ = _recorded(value)
    tracked["a"], tracked["b"], tracked["c"], tracked["d"]["e"], tracked["d"][3]  # noqa: B018 - read them all
    back = tape.decode(json.loads(json.dumps(tape.Encoder().encode(tracked))), None)
    assert back["a"][:2] == [1, 2.5] and np.isnan(back["a"][2])
    assert back["b"][0].dtype == np.float32 and back["b"][0].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert type(back["b"][1]) is np.int64 and back["b"][1] == 7
    assert back["c"] is None and back["d"] == {"e": "text", 3: True}
    assert tape.call_key("m", "f", (back["b"][0],), {}) == tape.call_key("m", "f", (value["b"][0],), {})


def test_only_the_keys_a_check_read_are_recorded():
    from hw11grader.judge import tape
    _, tracked, _ = _recorded({"public": 1.5, "secret": 2.5})
    assert tracked["public"] == 1.5
    tree = tape.Encoder().encode(tracked)
    assert tree == {"$d": [["public", 1.5]]}


def test_the_answer_key_holds_choices_as_salted_hashes_that_match_only_the_right_guess():
    from hw11grader.judge import tape
    _, tracked, _ = _recorded({"q1a": "increase_rank", "q6c": [True, True, False], "q6a": [50, 51], "n": 16,
                               "x": 0.49}, answer_key=True)
    for key in tracked:
        tracked[key]  # noqa: B018
    rec = tape.Recorder()
    tree = tape.Encoder(rec, seed="s").encode(tracked, answer_key=True)
    text = json.dumps(tree)
    assert "increase_rank" not in text and "true" not in text
    back = tape.decode(json.loads(text), None)
    assert back["q1a"] == "increase_rank" and back["q1a"] != "decrease_rank"
    assert back["q6c"][0] == True and back["q6c"][2] == False and back["q6c"][2] != True  # noqa: E712
    assert back["q6c"][0].digest != back["q6c"][1].digest  # equal answers do not show as equal hashes
    assert 51 in back["q6a"] and 52 not in back["q6a"]
    assert back["n"] == 16 and back["x"] == 0.49  # numbers: shown by the checks' messages anyway


def test_a_call_that_was_never_recorded_is_a_tape_miss():
    from hw11grader.judge import tape
    t = tape.Tape({"schema": tape.TAPE_SCHEMA, "kinds": {"m": {"f": "function"}}, "points": {},
                   "calls": {tape.call_key("m", "f", (1.0,), {}): 2.0}})
    f = tape.TapeModule("m", t, t.kinds["m"]).f
    assert f(1.0) == 2.0
    with pytest.raises(tape.TapeMiss, match=r"m\.f\(2\)"):
        f(2.0)


def test_a_recorded_symbolic_answer_compares_like_the_expression(monkeypatch):
    import sympy
    from hw11grader.judge import symbolic
    from hw11grader.judge import tape
    m, l, k = sympy.symbols("m l k", positive=True)
    expected = k * (m + l) / (m * l)
    ranges = {"m": (1.0, 100.0), "l": (1.0, 100.0), "k": (1.0, 10.0)}
    rec = tape.Recorder()
    monkeypatch.setattr(tape, "RECORDER", rec)
    rec.record("q", "answers", (), {}, {"r": expected})["r"]
    right, wrong = symbolic.parse("k/l + k/m", ranges), symbolic.parse("k/(m*l)", ranges)
    assert symbolic.compare(right, expected, ranges, "key") is None
    full_wrong = symbolic.compare(wrong, expected, ranges, "key")
    data = json.loads(json.dumps(rec.tape()))
    assert "m + l" not in json.dumps(data) and "l + m" not in json.dumps(data)
    taped = tape.decode(next(iter(data["calls"].values())), tape.Tape(data))["r"]
    assert isinstance(taped, tape.TapedExpression)
    assert symbolic.compare(right, taped, ranges, "key") is None
    assert symbolic.compare(wrong, taped, ranges, "key") == full_wrong is not None
    with pytest.raises(tape.TapeMiss):
        symbolic.compare(right, taped, ranges, "another key")


# ---------------------------------------------------------------- the built kit (slow: building records)

@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    out = tmp_path_factory.mktemp("kit") / "hw11-kit"
    code, stdout, stderr = run_grader("build", "student", "--out", out, timeout=3000)
    assert code == 0, stderr[-3000:]
    return out


def kit_files(kit):
    return {p.relative_to(kit).as_posix(): p.read_text(encoding="utf-8", errors="replace")
            for p in kit.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_the_kit_holds_no_reference_code_no_hidden_check_and_no_secret_folder(kit, content):
    files = kit_files(kit)
    assert sorted(p for p in files if p.startswith("reference/")) == ["reference/__init__.py", "reference/tape.json"]
    assert not [p for p in files if p.startswith(("checks/hidden", "tests/", "tools/", ".cache"))]
    for required in ("grader.py", "hw11.py", "hw11.ipynb", "requirements.lock", "checks/points.toml",
                     "hw11grader/boundary/child/child_main.py", "experiments/q4_batch.py"):
        assert required in files
    hidden = [e.id for e in content.entries if e.visibility == "hidden"]
    assert not [(p, cid) for p, text in files.items() for cid in hidden if cid in text]


@pytest.mark.slow
def test_no_file_of_the_kit_implements_a_student_api_function(kit):
    from hw11grader.staff.kit import _sources, student_api_names, working_definitions
    names = student_api_names(ROOT)
    found = [w for path, src in _sources(kit) for w in working_definitions(src, names, str(path))]
    assert found == []


def _answer_values():
    import importlib
    out = {}
    for path in sorted((ROOT / "reference").glob("q*.py")):
        module = importlib.import_module(f"reference.{path.stem}")
        if callable(getattr(module, "answers", None)):
            out.update(module.answers())
    return out


@pytest.mark.slow
def test_no_hidden_answer_value_and_no_symbolic_answer_is_in_the_kit(kit, content):
    import sympy
    files = kit_files(kit)
    everything = "\n".join(files.values())
    public_keys = {k for e in content.entries if e.visibility == "public" for k in e.spec.answers}
    answers = _answer_values()
    hidden_numbers = [v for k, v in answers.items() if k not in public_keys and isinstance(v, float)
                      and not v.is_integer()]
    assert hidden_numbers, "nothing to look for: the test proves nothing"
    assert [v for v in hidden_numbers if repr(v) in everything] == []
    # (an answer that is one bare symbol, like d_head, is a name the homework uses everywhere)
    expressions = [v for v in answers.values() if isinstance(v, sympy.Basic) and not v.is_Number
                   and not v.is_Symbol]
    assert len(expressions) >= 5
    for e in expressions:
        for form in {str(e), sympy.srepr(e), str(sympy.simplify(e))}:
            if len(form) > 4:
                assert form not in everything, form
    tape = json.loads(files["reference/tape.json"])
    for key, value in tape["calls"].items():
        if key.split(":")[0].endswith(".answers"):
            assert {k for k, _ in value["$d"]} <= public_keys
    # choices of the answer key are hashes, not text
    for choice in ("increase_rank", "match_dim1_oppose_dim3", "anti_aligned", "channel"):
        assert f'"{choice}"' not in files["reference/tape.json"], choice


@pytest.mark.slow
def test_points_toml_lists_the_public_checks_and_public_totals(kit, content):
    import tomllib
    config = tomllib.loads((kit / "checks" / "points.toml").read_text())
    public = [e for e in content.entries if e.visibility == "public"]
    assert list(config["checks"]) == [e.id for e in public]
    for q in content.questions:
        assert config["questions"][q.id]["points"] == sum(e.points for e in public if e.question == q.id)


def kit_grader(kit, *args, timeout=600):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["NO_COLOR"] = "1"
    return subprocess.run([sys.executable, "-I", "grader.py", *map(str, args)], cwd=kit, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_the_kit_grades_the_bundled_template_zero_from_its_own_folder(kit, tmp_path):
    report = tmp_path / "r.json"
    proc = kit_grader(kit, "--json", report, "--feedback", tmp_path / "fb")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "hw11.ipynb" in proc.stdout and "self-check" in proc.stdout
    assert "grader configuration" not in proc.stdout
    got = json.loads(report.read_text())
    assert got["score"] == 0 and not [c for c in got["checks"] if c["status"] == "grader_error"]


@pytest.mark.slow
def test_the_kit_passes_the_correct_submission_on_exactly_the_public_checks(kit, content, tmp_path):
    report = tmp_path / "report.json"
    proc = kit_grader(kit, SUBMISSIONS / "correct.ipynb", "--all", "--json", report, "--feedback", tmp_path / "fb")
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(report.read_text())
    assert [c["id"] for c in got["checks"]] == [e.id for e in content.entries if e.visibility == "public"]
    failing = [(c["id"], c["message"][:300]) for c in got["checks"] if c["status"] != "passed"]
    assert not failing
    assert got["score"] == pytest.approx(sum(e.points for e in content.entries if e.visibility == "public"))


GRADE_MANY = textwrap.dedent(r"""
    import json, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from hw11grader.judge.registry import load_content
    from hw11grader.judge.runner import grade
    content = load_content()
    out = {}
    for path, question in json.loads(sys.argv[2]):
        g = grade(Path(path), content, mode="student", questions=[question])
        out[path] = {r.id: [r.status, r.score, r.message] for r in g.results if r.visibility == "public"}
    print(json.dumps(out))
""")


def _grade_many(where, jobs):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return subprocess.Popen([sys.executable, "-I", "-c", GRADE_MANY, str(where), json.dumps(jobs)], cwd=where,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_every_mutant_loses_the_same_public_points_with_the_kit_and_the_full_grader(kit, tmp_path):
    jobs = []
    for mutant in MUTANTS:
        text = mutant.read_text()
        question = re.search(r"^# expect-fail: (q\d)", text, re.M).group(1)
        target = tmp_path / mutant.stem / "hw11.py"
        target.parent.mkdir()
        target.write_text((SUBMISSIONS / "correct.py").read_text() + "\n\n# ---- mutant ----\n" + text)
        jobs.append([str(target), question])
    procs = [_grade_many(kit, jobs), _grade_many(ROOT, jobs)]  # the two sides at once: one per core
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=3000)
        assert p.returncode == 0, stderr[-3000:]
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    in_kit, in_full = outs
    for path, _ in jobs:
        kit_scores = {cid: r[1] for cid, r in in_kit[path].items()}
        full_scores = {cid: r[1] for cid, r in in_full[path].items()}
        assert kit_scores == full_scores, path
        assert any(r[0] != "passed" for r in in_full[path].values()), f"{path}: the mutant loses nothing"
        for cid, (status, score, message) in in_kit[path].items():
            assert status != "grader_error", (path, cid, message)
            if status == "failed" and in_full[path][cid][0] == "failed" and "(" in in_full[path][cid][2]:
                assert "(" in message or "ANSWERS" in message, (path, cid, message)  # it names the input


@pytest.mark.slow
def test_the_kit_works_from_a_fresh_virtual_environment(kit, tmp_path):
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
