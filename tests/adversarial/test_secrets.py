"""Answers stay on the grader's side: as root, the child can read nothing of the
grader's installation but the Python environment (deny by default, not a list).

Run as root (CI runs as root after 'make sandbox'); skipped otherwise, since a
child running as the student's own user can by design read what that user can.
"""
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from conftest import ROOT, SUBMISSIONS, run_grader

HERE = Path(__file__).parent
WALKER = HERE / "submissions" / "walk_and_exec_solutions.py"
PROBE = HERE / "probes" / "readable_files.py"
LIST_READABLE = HERE / "probes" / "list_readable.py"
LIMITS = ["--call-timeout", "20", "--load-timeout", "120", "--time-limit", "400"]
SOLUTION = "def qk_matrix(W_Q, W_K):\n    return W_Q.T @ W_K\n"

root_only = pytest.mark.skipif(not (hasattr(os, "geteuid") and os.geteuid() == 0),
                               reason="needs root: without it the child runs as you and reads what you can")


def jail_modes():
    """Each way the grader can confine the child as root: the private file system, and its fallback."""
    return [pytest.param({}, id="jail"), pytest.param({"HW11_JAIL": "0"}, id="file-modes")]


def planted_secrets(install: Path):
    """Files added under the installation after the fact: no list names them."""
    tag = uuid.uuid4().hex[:8]
    folder = install / f"zz_new_{tag}"
    folder.mkdir()
    (folder / "solution.py").write_text(SOLUTION)
    loose = install / f"zz_solution_{tag}.py"
    loose.write_text(SOLUTION)
    return [folder, loose], [str(folder / "solution.py"), str(loose)]


def list_readable(install: Path, python=sys.executable, env=None, cwd=None):
    made, planted = planted_secrets(install)
    try:
        proc = subprocess.run([python, str(LIST_READABLE), str(install), str(PROBE), *planted],
                              capture_output=True, text=True, timeout=400, cwd=cwd or install,
                              env={**os.environ, **(env or {})})
    finally:
        for path in made:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_nothing_readable(found, install: Path, also=()):
    private = [str(install)] + [str(a) for a in also]
    leaked = [p for p in found["outside"] if any(p == d or p.startswith(d + "/") for d in private)]
    assert leaked == [], f"{found['mode']}: the child could read {leaked[:20]}"
    assert found["planted"] == [False, False], "a file added under the installation later was readable"
    assert found["inside"] > 100, "the probe could not even read the Python environment: it proves nothing"


@root_only
@pytest.mark.parametrize("env", jail_modes())
def test_the_child_reads_nothing_of_the_checkout_but_the_python_environment(env):
    found = list_readable(ROOT, env=env)
    assert found["mode"] == ("setpriv" if env else "jail")
    assert_nothing_readable(found, ROOT)


def needs_jail():
    from hw11grader.boundary import sandbox
    return sandbox.plan(sandbox.SandboxConfig(), sys.executable).mode != "jail"


jailed = pytest.mark.skipif(not (hasattr(os, "geteuid") and os.geteuid() == 0) or needs_jail(),
                            reason="needs root and mount namespaces (the private file system); with file modes "
                                   "alone, world-readable copies elsewhere on the machine stay readable")


# With file modes alone (the fallback) the installation is private, but a solution left world-readable
# elsewhere on the machine (another user's copy in /tmp) is not: these run with the private file system.
@jailed
def test_a_submission_that_searches_everywhere_for_a_solution_scores_zero(tmp_path):
    env = {}
    made, _ = planted_secrets(ROOT)
    out = tmp_path / "report.json"
    try:
        proc = subprocess.run([sys.executable, str(ROOT / "grader.py"), str(WALKER), "--all", "--json", str(out),
                               *LIMITS], capture_output=True, text=True, timeout=600, cwd=tmp_path,
                              env={**os.environ, "NO_COLOR": "1", **env})
    finally:
        for path in made:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["score"] == 0, [c["id"] for c in report["checks"] if c["score"]]
    assert not [c for c in report["checks"] if c["status"] == "grader_error"]


@jailed
@pytest.mark.slow
def test_in_a_batch_the_searcher_scores_zero_and_its_classmate_full_marks(tmp_path):
    klass = tmp_path / "class"
    (klass / "searcher").mkdir(parents=True)
    (klass / "honest").mkdir()
    shutil.copy(WALKER, klass / "searcher" / "hw11.py")
    shutil.copy(SUBMISSIONS / "correct.py", klass / "honest" / "hw11.py")
    out = tmp_path / "grades.jsonl"
    code, stdout, stderr = run_grader("batch", klass, "--out", out, "--jobs", "2", *LIMITS, cwd=tmp_path,
                                      timeout=900)
    assert code == 0, stderr[-3000:]
    reports = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert reports["searcher"]["score"] == 0
    assert reports["honest"]["score"] == reports["honest"]["max_score"] == 100


@pytest.fixture(scope="module")
def unpacked_autograder(tmp_path_factory):
    """The Gradescope zip unpacked like /autograder and its setup.sh run (install skipped)."""
    tmp = tmp_path_factory.mktemp("gs")
    archive = tmp / "autograder.zip"
    code, _, stderr = run_grader("build", "gradescope", "--out", archive, cwd=tmp)
    assert code == 0, stderr
    root = tmp / "autograder"
    (root / "source").mkdir(parents=True)
    subprocess.run(["unzip", "-q", str(archive), "-d", str(root / "source")], check=True)
    env = {**os.environ, "HW11_ROOT": str(root), "HW11_PYTHON": sys.executable, "HW11_SKIP_INSTALL": "1"}
    proc = subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return root, env


@root_only
@pytest.mark.slow
def test_gradescope_the_child_reads_nothing_of_the_unpacked_autograder(unpacked_autograder):
    root, env = unpacked_autograder
    (root / "submission").mkdir(exist_ok=True)
    (root / "submission" / "classmate_solution.py").write_text(SOLUTION)
    found = list_readable(root / "source", env={"HW11_ROOT": str(root)}, cwd=root / "source")
    assert_nothing_readable(found, root / "source", also=[root / "submission", root / "results"])


@jailed
@pytest.mark.slow
def test_gradescope_the_searcher_scores_zero(unpacked_autograder):
    root, env = unpacked_autograder
    shutil.rmtree(root / "submission", ignore_errors=True)
    (root / "submission").mkdir()
    shutil.copy(WALKER, root / "submission" / "hw11.py")
    proc = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0, [t["name"] for t in results["tests"] if t.get("score")]
