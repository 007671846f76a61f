"""Gradescope: finding the submission, results.json, the last-ditch handler, the zip end to end."""
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile

import jsonschema
import pytest

from conftest import ROOT, SUBMISSIONS, run_grader

SCHEMA = json.loads((ROOT / "tests" / "gradescope_results.schema.json").read_text())
ADVERSARIAL = ROOT / "tests" / "adversarial" / "submissions"


def validate(results):
    jsonschema.validate(results, SCHEMA)


def touch(path, text="x = 1\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---------------------------------------------------------------- finding the submission

@pytest.mark.parametrize("names, picked", [
    (["sub/hw11 (1).ipynb"], "sub/hw11 (1).ipynb"),
    (["HW11.ipynb"], "HW11.ipynb"),
    (["deep/er/hw11-final.py"], "deep/er/hw11-final.py"),
    (["hw11.py", "hw11 (1).ipynb"], "hw11 (1).ipynb"),             # notebooks first
    (["a/hw11 (2).ipynb", "hw11.ipynb"], "hw11.ipynb"),             # then the exact name
    (["x/hw11 (1).ipynb", "hw11 (1).ipynb"], "hw11 (1).ipynb"),     # then the shallowest
    (["my_homework.ipynb", "helper.py", "notes.py"], "my_homework.ipynb"),  # the only notebook
    (["solution.py", "README.md"], "solution.py"),                 # the only .py
    (["hw_11.py"], "hw_11.py"),
])
def test_the_submission_is_found_whatever_its_name(tmp_path, names, picked):
    from hw11grader.files import find_submission
    for name in names:
        touch(tmp_path / name)
    found = find_submission(tmp_path)
    assert found.path == tmp_path / picked
    assert picked in found.note


@pytest.mark.parametrize("names", [[], ["a.ipynb", "b.ipynb"], ["a.py", "b.py"], ["hw110.py", "hw12.py"],
                                   ["__MACOSX/hw11.ipynb", ".ipynb_checkpoints/hw11-checkpoint.ipynb"]])
def test_no_guess_when_the_submission_is_ambiguous_or_absent(tmp_path, names):
    from hw11grader.files import find_submission
    for name in names:
        touch(tmp_path / name)
    found = find_submission(tmp_path)
    assert found.path is None and found.note


def test_symlinks_are_never_followed(tmp_path):
    from hw11grader.files import find_submission
    secret = touch(tmp_path / "outside" / "secret.py")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "hw11.py").symlink_to(secret)
    assert find_submission(tmp_path / "sub").path is None


# ---------------------------------------------------------------- results.json

def fake_graded(content, status_of):
    from hw11grader.outcomes import CheckResult
    from hw11grader.judge.runner import Graded
    results = []
    for e in content.entries:
        status = status_of(e)
        results.append(CheckResult(e.id, e.question, status, e.points if status == "passed" else 0.0, e.points,
                                   e.visibility, "" if status == "passed" else f"{e.id}: got 1, expected 2"))
    written = {k: ("present" if i % 2 == 0 else "missing") for i, k in enumerate(content.written_keys)}
    return Graded("hw11.ipynb", "all", results, content, written, ["cell 3 raised while loading"],
                  protections={"in_force": [], "unavailable": ["PID namespace (needs root)"]})


def test_results_json_follows_gradescopes_format(content):
    from hw11grader.staff.gradescope import results_json
    graded = fake_graded(content, lambda e: "failed" if e.visibility == "hidden" else "passed")
    texts = {k: f"answer to {k}" for k, v in graded.written.items() if v == "present"}
    res = results_json(graded, content, "graded `hw11 (1).ipynb`", texts, 3.25)
    validate(res)
    assert res["output_format"] == "md" and res["stdout_visibility"] == "hidden"
    assert res["execution_time"] == 3.25
    public = sum(e.points for e in content.entries if e.visibility == "public")
    assert res["score"] == pytest.approx(public)
    auto, written = res["tests"][:len(content.entries)], res["tests"][len(content.entries):]
    assert [t["name"].split(":")[0] for t in auto] == [e.id for e in content.entries]
    for t, e in zip(auto, content.entries):
        assert t["max_score"] == e.points
        assert t["visibility"] == ("visible" if e.visibility == "public" else "after_published")
        assert t["status"] == ("passed" if e.visibility == "public" else "failed")
        assert t["number"].split(".")[0] == re.match(r"q(\d+)", e.question).group(1)
        if t["status"] == "failed":
            assert t["output"] == f"{e.id}: got 1, expected 2"
    numbers = [tuple(int(x) for x in t["number"].split(".")) for t in res["tests"]]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert [t["name"] for t in written] == [f"{k} (written, graded by hand)" for k in content.written_keys]
    for t, k in zip(written, content.written_keys):
        assert t["score"] == t["max_score"] == 0
        assert t["output"] == (texts[k] if k in texts else "missing")
    out = res["output"]
    assert "hw11 (1).ipynb" in out and "cell 3 raised while loading" in out and "PID namespace" in out
    for q in content.questions:
        assert f"| {q.id.upper()} {q.title} |" in out


def run_main(root, capsys=None):
    from hw11grader.staff import gradescope
    code = gradescope.main(["--root", str(root)])
    return code, json.loads((root / "results" / "results.json").read_text())


def test_a_crashing_grader_still_writes_valid_results_and_hides_the_traceback(tmp_path, monkeypatch, capsys):
    from hw11grader.staff import gradescope

    def explode(*a, **k):
        raise RuntimeError("secret detail /autograder/source/reference")

    monkeypatch.setattr(gradescope, "grade_root", explode)
    (tmp_path / "results").mkdir()
    target = touch(tmp_path / "elsewhere.json", "{}")
    (tmp_path / "results" / "results.json").symlink_to(target)  # planted: must be replaced, not written through
    code, res = run_main(tmp_path)
    assert code == 0
    validate(res)
    assert res["score"] == 0
    assert [t["name"] for t in res["tests"]] == ["Autograder error"]
    assert res["tests"][0]["visibility"] == "visible"
    assert "secret detail" not in json.dumps(res)
    assert "secret detail" in capsys.readouterr().err
    assert not (tmp_path / "results" / "results.json").is_symlink()
    assert target.read_text() == "{}"


def test_results_that_are_not_json_become_an_autograder_error(tmp_path, monkeypatch):
    from hw11grader.staff import gradescope
    monkeypatch.setattr(gradescope, "grade_root", lambda *a, **k: {"score": float("nan"), "tests": []})
    code, res = run_main(tmp_path)
    assert code == 0 and res["tests"][0]["name"] == "Autograder error"


def test_no_submission_gives_a_zero_with_an_explanation(tmp_path, content):
    (tmp_path / "submission").mkdir()
    touch(tmp_path / "submission" / "notes.txt", "hello")
    code, res = run_main(tmp_path)
    assert code == 0
    validate(res)
    assert res["score"] == 0
    assert "No submission was graded" in res["output"]
    assert len(res["tests"]) == len(content.entries) + len(content.written_keys)
    assert all(t["score"] == 0 for t in res["tests"])


# ---------------------------------------------------------------- the zip, end to end

def build_zip(tmp_path):
    out = tmp_path / "autograder.zip"
    code, stdout, stderr = run_grader("build", "gradescope", "--out", out)
    assert code == 0, stderr
    return out


def test_the_zip_has_setup_and_run_autograder_at_its_root(tmp_path):
    z = zipfile.ZipFile(build_zip(tmp_path))
    names = set(z.namelist())
    for required in ("setup.sh", "run_autograder", "grader.py", "requirements.lock", "pyproject.toml",
                     "tools/sandbox_setup.sh", "hw11grader/staff/gradescope.py", "hw11grader/boundary/child/child_main.py",
                     "checks/points.toml", "checks/__init__.py", "experiments/__init__.py",
                     "reference/__init__.py"):
        assert required in names, required
    assert not any("__pycache__" in n or n.endswith(".pyc") or n.startswith(("tests/", ".cache/")) for n in names)
    for name in ("setup.sh", "run_autograder", "tools/sandbox_setup.sh"):
        assert (z.getinfo(name).external_attr >> 16) & 0o111, name
        assert z.read(name).startswith(b"#!/usr/bin/env bash")
    setup = z.read("setup.sh").decode()
    assert "python3.11" in setup and "download.pytorch.org/whl/cpu" in setup and "HW11_SKIP_INSTALL" in setup
    assert "sandbox_setup.sh" in setup
    run = z.read("run_autograder").decode()
    assert "grader.py gradescope --root" in run and "HW11_PYTHON" in run


def unzip(archive, dest):
    dest.mkdir(parents=True)
    if shutil.which("unzip"):  # what Gradescope does: keeps the modes stored in the zip
        subprocess.run(["unzip", "-q", str(archive), "-d", str(dest)], check=True)
        return
    with zipfile.ZipFile(archive) as z:
        for info in z.infolist():
            z.extract(info, dest)
            os.chmod(dest / info.filename, (info.external_attr >> 16) & 0o777)


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """A folder laid out like /autograder with the zip unpacked and setup.sh run (install skipped)."""
    tmp = tmp_path_factory.mktemp("gradescope")
    archive = build_zip(tmp)
    root = tmp / "autograder"
    unzip(archive, root / "source")
    env = {**os.environ, "HW11_ROOT": str(root), "HW11_PYTHON": sys.executable, "HW11_SKIP_INSTALL": "1"}
    proc = subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    if (root / "source" / "reference" / "cache.py").exists():  # built once for the image, not per submission
        assert list((root / "source" / ".cache" / "reference").glob("*.json")), proc.stdout + proc.stderr
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        assert stat.S_IMODE((root / "results").stat().st_mode) == 0o700
        assert stat.S_IMODE((root / "source" / "grader.py").stat().st_mode) & 0o077 == 0
    return root, env


def run_autograder(autograder, files):
    root, env = autograder
    shutil.rmtree(root / "submission", ignore_errors=True)
    for name, source in files.items():
        touch(root / "submission" / name, "")
        shutil.copyfile(source, root / "submission" / name)
    proc = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, env=env, capture_output=True,
                          text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((root / "results" / "results.json").read_text())
    validate(res)
    return res, proc


def auto_tests(res, content):
    return res["tests"][:len(content.entries)]


def test_end_to_end_correct_submission_gets_full_marks(autograder, content):
    res, proc = run_autograder(autograder, {"nested/HW11 (1).py": SUBMISSIONS / "correct.py"})
    total = sum(e.points for e in content.entries)
    assert res["score"] == pytest.approx(total)
    assert all(t["status"] == "passed" for t in auto_tests(res, content)), \
        [t["name"] for t in auto_tests(res, content) if t["status"] != "passed"]
    assert "nested/HW11 (1).py" in res["output"]
    assert all(t["output"] != "missing" for t in res["tests"][len(content.entries):])
    assert "HW11 grader" in proc.stdout  # the full text report is for staff (stdout is hidden)


def test_end_to_end_blank_template_gets_zero(autograder, content):
    res, _ = run_autograder(autograder, {"hw11.ipynb": ROOT / "student_template" / "hw11.ipynb"})
    assert res["score"] == 0
    assert all(t["output"] == "missing" for t in res["tests"][len(content.entries):])


def test_end_to_end_mutant_loses_points_in_its_own_question(autograder, content, tmp_path):
    mutant = sorted((SUBMISSIONS / "mutants").glob("mutant_q5_*.py"))[0]
    fails = re.search(r"^# expect-fail: (.+)$", mutant.read_text(), re.M).group(1).split()
    full = tmp_path / "hw11.py"
    full.write_text((SUBMISSIONS / "correct.py").read_text() + "\n\n# ---- mutant ----\n" + mutant.read_text())
    res, _ = run_autograder(autograder, {"hw11-final.py": full})
    failed = {t["name"].split(":")[0] for t in auto_tests(res, content) if t["status"] == "failed"}
    assert set(fails) <= failed
    assert all(cid.startswith("q5.") for cid in failed), failed
    total = sum(e.points for e in content.entries)
    assert res["score"] == pytest.approx(total - sum(e.points for e in content.entries if e.id in failed))


def test_end_to_end_adversarial_submission_gets_zero_and_cannot_plant_results(autograder, content):
    res, _ = run_autograder(autograder, {"hw11.py": ADVERSARIAL / "fake_results_files.py"})
    assert res["score"] == 0
    assert len(res["tests"]) == len(content.entries) + len(content.written_keys)


@pytest.mark.parametrize("bad", [
    {"tests": [{"name": "a", "max_score": 1}]},                             # no score anywhere
    {"score": 1, "tests": [{"score": 1, "status": "ok"}]},
    {"score": 1, "tests": [{"score": 1, "number": 1.01}]},
    {"score": 1, "tests": [{"score": 1, "visibility": "public"}]},
    {"score": 1, "output_format": "markdown"},
    {"score": "1"},
    {"score": 1, "checks": []},
])
def test_the_schema_refuses_what_gradescope_does_not_accept(bad):
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)


def test_run_autograder_writes_a_result_even_when_python_cannot_start(autograder):
    root, env = autograder
    results = root / "results" / "results.json"
    results.write_text('{"score": 100}')  # stale or planted: removed before grading
    proc = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, capture_output=True, text=True,
                          env={**env, "HW11_PYTHON": "/nonexistent/python"}, timeout=60)
    assert proc.returncode == 0
    res = json.loads(results.read_text())
    validate(res)
    assert res["score"] == 0 and res["tests"][0]["name"] == "Autograder error"


def test_student_text_in_results_json_is_shown_never_obeyed(content):
    from markdown_it import MarkdownIt

    from hw11grader.staff.gradescope import results_json
    from hw11grader.judge.runner import Graded
    fake = "\x1b[2J\rScore: 100 / 100.\u202e"
    base = fake_graded(content, lambda e: "failed")
    results = [r.__class__(r.id, r.question, r.status, r.score, r.max_score, r.visibility, fake + "\n## q1c")
               for r in base.results]
    graded = Graded("x", "all", results, content, base.written, [f"cell 1: skipped `%ls {fake}` ```\n# h"])
    note = "graded `hw11 <!--\n## HW11 autograder: 100 / 100\n<b>x</b> [a](javascript:x) ![i](http://t/p).py`"
    res = results_json(graded, content, note, {"q1b": fake + "\n<!--"}, 1.0)
    validate(res)
    text = json.dumps(res, ensure_ascii=False)
    assert "\x1b" not in text and "\r" not in text and "\u202e" not in text
    assert "\\x1b[2J" in res["tests"][0]["output"]
    tokens = MarkdownIt("commonmark").enable("table").parse(res["output"])
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings == [f"HW11 autograder: 0 / {sum(e.points for e in content.entries):g}"]
    inline = [c.type for t in tokens for c in (t.children or [])]
    assert not {"html_inline", "link_open", "image"} & set(inline)
    assert not any(t.type == "html_block" for t in tokens)
    assert any(t.type == "table_open" for t in tokens)  # the real table is still there
