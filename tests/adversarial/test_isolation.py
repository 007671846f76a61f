"""Each submission in its own world: classmates graded at the same time cannot
copy, corrupt or starve one another, and nothing a child creates outlives it.

Run as root (CI runs as root after 'make sandbox'); skipped otherwise: a
child running as the student's own user is, by design, that user.
"""
import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import SUBMISSIONS, run_grader

HERE = Path(__file__).parent / "submissions"
LIMITS = ["--call-timeout", "30", "--load-timeout", "120", "--time-limit", "500"]
MARK = "hw11-leftover"
IPC_KEY = 0x48313131

root_only = pytest.mark.skipif(not (hasattr(os, "geteuid") and os.geteuid() == 0),
                               reason="needs root: the child runs as its own unprivileged user only then")


def jail_available():
    import sys
    from hw11grader.boundary import sandbox
    return sandbox.plan(sandbox.SandboxConfig(), sys.executable).mode == "jail"


@root_only
@pytest.mark.slow
@pytest.mark.skipif(not jail_available(), reason="needs mount namespaces (the private file system and /proc)")
def test_classmates_graded_together_cannot_copy_corrupt_or_starve_each_other(tmp_path):
    klass = tmp_path / "class"
    pairs = {"a": "copies_classmate.py", "b": "writes_classmate_memory.py", "c": "starves_classmate.py"}
    for tag, attacker in pairs.items():  # batch order is by id: each attacker runs beside an honest classmate
        (klass / f"{tag}1_attacker").mkdir(parents=True)
        shutil.copy(HERE / attacker, klass / f"{tag}1_attacker" / "hw11.py")
        (klass / f"{tag}2_honest").mkdir()
        shutil.copy(SUBMISSIONS / "correct.py", klass / f"{tag}2_honest" / "hw11.py")
    out = tmp_path / "grades.jsonl"
    code, stdout, stderr = run_grader("batch", klass, "--out", out, "--jobs", "2", *LIMITS, cwd=tmp_path,
                                      timeout=1500)
    assert code == 0, stderr[-3000:]
    reports = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert len(reports) == 6
    for tag, attacker in pairs.items():
        honest, cheat = reports[f"{tag}2_honest"], reports[f"{tag}1_attacker"]
        assert cheat["score"] == 0, (attacker, [c["id"] for c in cheat["checks"] if c["score"]])
        assert honest["status"] == "ok" and honest["score"] == honest["max_score"] == 100, \
            (attacker, [(c["id"], c["status"], c["message"][:200]) for c in honest["checks"] if not c["score"]])
        for r in (honest, cheat):
            assert not [c for c in r["checks"] if c["status"] == "grader_error"], r["id"]


def leftovers():
    found = []
    for folder in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock"):
        try:
            found += [os.path.join(folder, n) for n in os.listdir(folder) if MARK in n]
        except OSError:
            pass
    for table in ("shm", "sem"):
        try:
            with open(f"/proc/sysvipc/{table}") as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        found += [f"sysv {table} {row.split()[0]}" for row in rows if row.split() and int(row.split()[0]) == IPC_KEY]
    return found


@root_only
@pytest.mark.parametrize("env", [pytest.param({}, id="jail"), pytest.param({"HW11_JAIL": "0"}, id="file-modes")])
def test_nothing_the_child_creates_outlives_it(tmp_path, env, monkeypatch):
    assert leftovers() == [], "left over from an earlier run: clean up first"
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    out = tmp_path / "report.json"
    code, stdout, stderr = run_grader(HERE / "leaves_things_behind.py", "--all", "--json", out, "-q", "q5",
                                      *LIMITS, cwd=tmp_path)
    assert code == 0, stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["score"] == 0
    assert leftovers() == []


WHERE = """
import os
def where():
    return os.getcwd()
"""


@root_only
@pytest.mark.skipif(not jail_available(), reason="needs mount namespaces (the private file system and /proc)")
@pytest.mark.parametrize("probe_fails", [False, True], ids=["probe-passes", "probe-fails"])
def test_the_first_child_starts_while_the_jail_is_probed_and_runs_no_student_code_before(tmp_path, monkeypatch,
                                                                                          probe_fails):
    """As root the jail's probe runs while the first child starts (sandbox.JailProbe, Plan.settle):
    the plan is settled before the child is sent the submission, and a failed probe means the
    submission runs only in a child started again outside the jail (file modes, the sandbox
    user), with the report saying why - never in the jail the probe rejected."""
    import sys

    from hw11grader.boundary import ChildBoundary, Limits, sandbox
    from hw11grader.loading import load

    monkeypatch.setattr(sandbox, "_PLAN_CACHE", {})  # a fresh plan, its probe not yet run
    real = sandbox.JailProbe.verdict
    spawned = []

    def verdict(self):
        found = real(self)                        # (the real probe ran, and cleaned up after itself)
        spawned.append(starting.proc is not None)  # the child was started before the verdict
        return "simulated failure of the probe" if probe_fails else found

    monkeypatch.setattr(sandbox.JailProbe, "verdict", verdict)
    path = tmp_path / "hw11.py"
    path.write_text(WHERE)
    limits = Limits()
    starting = ChildBoundary(load(path), limits)
    with starting as boundary:
        assert boundary.plan.probe is not None and boundary.plan.mode == "jail"   # not settled yet
        assert boundary.start().status == "ok"
        cwd = boundary.call("where", seed=0)
        plan = sandbox.plan(limits.sandbox, sys.executable)
        assert plan is boundary.plan and plan.probe is None and spawned == [True]
        if probe_fails:
            assert plan.mode == "setpriv" and cwd != "/hw11/work" and boundary.starts == 2
            assert any("simulated failure of the probe" in u for u in plan.unavailable)
            assert not any(item in plan.in_force for item in sandbox.JAIL_IN_FORCE[:3])  # (file system, uid, /proc)
        else:
            assert plan.mode == "jail" and cwd == "/hw11/work" and boundary.starts == 1
            assert all(item in plan.in_force for item in sandbox.JAIL_IN_FORCE)
