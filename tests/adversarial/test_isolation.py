"""Each submission in its own world: classmates graded at the same time cannot
copy, corrupt or starve one another, and nothing a child creates outlives it.

Run as root (CI runs as root after 'make sandbox'); skipped otherwise: a
child running as the student's own user is, by design, that user.
"""
import json
import os
import shutil
import time
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
@pytest.mark.parametrize("jail", ["works", "shows-the-grader", "cannot-start"])
def test_the_first_child_finds_out_whether_the_jail_works_before_any_student_code_runs(tmp_path, monkeypatch,
                                                                                       jail):
    """As root, whether the jail works here is found out by the first child (no separate probe
    before it): started in a jail, it must complete its handshake and not see the grader's
    installation before it is sent the submission. A jail that shows the grader, or where a child
    cannot start, means the submission runs only in a child started again outside it (file modes,
    the sandbox user), the report saying why - never in that jail."""
    import sys

    from hw11grader.boundary import ChildBoundary, Limits, sandbox
    from hw11grader.loading import load

    monkeypatch.setattr(sandbox, "_PLAN_CACHE", {})  # a fresh plan: nobody knows yet
    if jail == "shows-the-grader":  # asked about a path the jail does show: as if it showed the grader
        monkeypatch.setattr(sandbox, "MUST_NOT_SEE", Path("/hw11/runtime"))
    if jail == "cannot-start":
        monkeypatch.setattr(sandbox, "jail_command", lambda unshare, python, config: [
            python, "-c", "import sys; sys.exit('jail: simulated failure to build the jail')"])
    path = tmp_path / "hw11.py"
    path.write_text(WHERE)
    limits = Limits()
    with ChildBoundary(load(path), limits) as boundary:
        assert boundary.plan.unsettled is not None and boundary.plan.mode == "jail"   # not known yet
        assert boundary.start().status == "ok"
        cwd = boundary.call("where", seed=0)
        plan = sandbox.plan(limits.sandbox, sys.executable)
        assert plan is boundary.plan and plan.unsettled is None
        if jail == "works":
            assert plan.mode == "jail" and cwd == "/hw11/work" and boundary.starts == 1
            assert all(item in plan.in_force for item in sandbox.JAIL_IN_FORCE)
            return
        assert plan.mode == "setpriv" and cwd != "/hw11/work" and boundary.starts == 2
        why = {"shows-the-grader": "the grader's installation is visible in it",
               "cannot-start": "a child could not start in it: jail: simulated failure to build the jail"}[jail]
        assert any(f"private file system view ({why})" in u for u in plan.unavailable), plan.unavailable
        assert not any(item in plan.in_force for item in sandbox.JAIL_IN_FORCE[:3])  # (file system, uid, /proc)


def test_a_plan_nobody_has_settled_is_probed_when_asked_for(monkeypatch):
    """``sandbox.plan`` (settled) outside a grading probes the jail itself (``_probe_jail``)."""
    import sys

    from hw11grader.boundary import sandbox

    monkeypatch.setattr(sandbox, "_PLAN_CACHE", {})
    probed = []
    real = sandbox._probe_jail
    monkeypatch.setattr(sandbox, "_probe_jail", lambda *a: probed.append(1) or real(*a))
    plan = sandbox.plan(sandbox.SandboxConfig(), sys.executable)
    assert plan.unsettled is None
    root_with_jail = plan.mode == "jail" or any("private file system view" in u for u in plan.unavailable)
    assert probed == ([1] if root_with_jail and "HW11_JAIL" not in os.environ else [])


FORK_HOG = """
import os, time
def hold(mb, count):
    # forks count children one after another, each writing mb MB and holding it: how many still hold it
    kids = []
    for _ in range(count):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            block = bytearray(mb * 2**20)  # zeroed: every page written
            os.write(w, b"k")
            time.sleep(120)
            os._exit(0)
        os.close(w)
        os.read(r, 1)  # b"k", or b"" once it is dead
        os.close(r)
        kids.append(pid)
    holding = sum(os.waitpid(pid, os.WNOHANG)[0] == 0 for pid in kids)
    for pid in kids:
        try:
            os.kill(pid, 9)
        except OSError:
            pass
    return holding
"""


def groups_here(controller):
    from hw11grader.boundary import cgroup
    return hasattr(os, "geteuid") and os.geteuid() == 0 and not cgroup.available(controller)


@root_only
@pytest.mark.skipif(not groups_here("memory"), reason="needs a memory cgroup the grader may make groups in")
@pytest.mark.parametrize("env", [pytest.param({}, id="jail"), pytest.param({"HW11_JAIL": "0"}, id="file-modes")])
def test_all_of_a_childs_processes_together_stay_under_its_memory_limit(tmp_path, env, monkeypatch):
    """A submission that forks and fills each process (each under its own address-space limit)
    cannot take more of the machine than its limit: its processes share one memory cgroup, and past
    it the kernel kills only them. Without it, all 6 would hold their 300 MB (1.8 GB)."""
    from dataclasses import replace

    from hw11grader.boundary import ChildBoundary, Limits, StudentError, cgroup, sandbox
    from hw11grader.loading import load

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(sandbox, "_PLAN_CACHE", {})
    path = tmp_path / "hw11.py"
    path.write_text(FORK_HOG)
    limit_mb, mb, count = 1024, 300, 6
    limits = Limits(call_timeout=120, sandbox=replace(sandbox.SandboxConfig(), address_space_mb=limit_mb))
    with ChildBoundary(load(path), limits) as boundary:
        assert boundary.start().status == "ok"
        assert sandbox.GROUP_IN_FORCE["memory"] in boundary.plan.in_force
        group = boundary.group
        folders = [folder for _, folder in group.folders.values()]
        assert group.limit() == limit_mb * 2**20 and all(os.path.isdir(f) for f in folders)
        try:
            holding = boundary.call("hold", (mb, count), seed=0)
        except StudentError as e:  # the kernel chose the submission's main process
            assert f"killed for using more memory than its limit ({limit_mb} MB" in str(e), str(e)
        else:
            assert 1 <= holding and holding * mb < limit_mb, holding
            assert group.oom_kills() >= 1
    assert not any(os.path.exists(f) for f in folders)  # removed with the child
    assert boundary.group is None and cgroup.available() == ""


MAIN_HOG = """
import os, time
def fill(mb):
    with open("/proc/self/oom_score_adj", "w") as f:  # the kernel's first choice in its group
        f.write("1000")
    r, w = os.pipe()
    if os.fork() == 0:  # a helper holding mb MB: oom_score_adj is inherited, so it is set back first
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("0")
        block = bytearray(mb * 2**20)
        os.write(w, b"k")
        time.sleep(120)
        os._exit(0)
    os.read(r, 1)
    block = bytearray(mb * 2**20)  # each process under its own limit, the two together over it
    return "survived"
"""


@root_only
@pytest.mark.skipif(not groups_here("memory"), reason="needs a memory cgroup the grader may make groups in")
def test_a_child_killed_for_its_memory_is_told_so(tmp_path, monkeypatch):
    from dataclasses import replace

    from hw11grader.boundary import ChildBoundary, Limits, StudentError, sandbox
    from hw11grader.loading import load

    monkeypatch.setattr(sandbox, "_PLAN_CACHE", {})
    path = tmp_path / "hw11.py"
    path.write_text(MAIN_HOG)
    limits = Limits(call_timeout=120, sandbox=replace(sandbox.SandboxConfig(), address_space_mb=1024))
    with ChildBoundary(load(path), limits) as boundary:
        assert boundary.start().status == "ok"
        with pytest.raises(StudentError) as e:
            boundary.call("fill", (600,), seed=0)
    assert "died during fill(600): it was killed for using more memory than its limit (1024 MB for all " \
           "its processes together)" in str(e.value), str(e.value)


BURNER = """
import os, time
def burn(n, seconds):
    # n busy processes, each in a session of its own (as the scheduler's autogroups count them)
    kids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            os.setsid()
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                pass
            os._exit(0)
        kids.append(pid)
    for pid in kids:
        os.waitpid(pid, 0)
    return n
"""

SPINNER = """
import time
def spin(wall):
    # busy for wall seconds: the CPU seconds it was given meanwhile
    t0, c0 = time.monotonic(), time.process_time()
    while time.monotonic() - t0 < wall:
        pass
    return time.process_time() - c0
"""


@root_only
@pytest.mark.skipif(not groups_here("cpu"), reason="needs a cpu cgroup the grader may make groups in")
@pytest.mark.parametrize("env", [pytest.param({}, id="jail"), pytest.param({"HW11_JAIL": "0"}, id="file-modes")])
def test_a_child_with_many_busy_processes_does_not_starve_the_one_beside_it(tmp_path, env, monkeypatch):
    """Two gradings at once, one keeping 16 processes busy: the other still gets its share of the
    CPU (each child's processes share one cpu cgroup). Measured without the groups: 0.11 CPU
    seconds per second beside the burner, on 2 cores; with them, about 1."""
    import threading

    from hw11grader.boundary import ChildBoundary, Limits, sandbox
    from hw11grader.loading import load

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(sandbox, "_PLAN_CACHE", {})
    for name, text in (("burner", BURNER), ("spinner", SPINNER)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "hw11.py").write_text(text)
    limits = Limits(call_timeout=120)
    with ChildBoundary(load(tmp_path / "burner" / "hw11.py"), limits) as burner, \
            ChildBoundary(load(tmp_path / "spinner" / "hw11.py"), limits) as spinner:
        assert burner.start().status == "ok" and spinner.start().status == "ok"
        assert sandbox.GROUP_IN_FORCE["cpu"] in spinner.plan.in_force
        burning = threading.Thread(target=burner.call, args=("burn", (16, 8.0)), kwargs={"seed": 0})
        burning.start()
        try:
            time.sleep(1.0)
            given = [spinner.call("spin", (1.0,), seed=0) for _ in range(3)]
        finally:
            burning.join()
    # its fair share is at least a third of a core even with the other test worker busy on the machine
    assert max(given) > 0.4, given


DISK_FILLER = """
import os
def fill():
    # writes 8 MB files into its working folder until it cannot: how many MB it wrote, and what it read back
    with open("hw11.py") as f:
        own = f.read(12)
    written, block = 0, b"x" * (8 << 20)
    try:
        while written < (256 << 20):  # (without the bound it would stop here: 256)
            with open(f"filler-{written >> 23}", "wb") as f:
                f.write(block)
            written += len(block)
    except OSError:
        pass
    return [written >> 20, own]
"""


@root_only
@pytest.mark.skipif(not jail_available(), reason="needs mount namespaces (the private file system and /proc)")
def test_what_a_child_writes_in_its_folder_is_bounded_and_never_reaches_the_disk(tmp_path, monkeypatch):
    """In the jail the scratch folder is a tmpfs of its own (a copy of the submission in it): a
    submission that writes until it cannot stops at its size, and the host's copy of the folder,
    on disk, holds only the submission."""
    from hw11grader.boundary import ChildBoundary, Limits, sandbox
    from hw11grader.loading import load

    monkeypatch.setattr(sandbox, "_PLAN_CACHE", {})
    monkeypatch.setattr(sandbox, "JAIL_WORK_SIZE", "48m")
    path = tmp_path / "hw11.py"
    path.write_text(DISK_FILLER)
    with ChildBoundary(load(path), Limits(call_timeout=120)) as boundary:
        assert boundary.start().status == "ok"
        written_mb, own = boundary.call("fill", seed=0)
        assert sorted(p.name for p in boundary.work.iterdir()) == ["hw11.py"]
    assert own == DISK_FILLER[:12]
    assert 32 <= written_mb <= 48, written_mb


@root_only
@pytest.mark.skipif(not groups_here("memory"), reason="needs a memory cgroup the grader may make groups in")
@pytest.mark.parametrize("env", [pytest.param({}, id="jail"), pytest.param({"HW11_JAIL": "0"}, id="file-modes")])
def test_a_child_that_cannot_join_its_cgroups_starts_again_without_them(tmp_path, env, monkeypatch):
    """The cgroups' failure is theirs: the child starts again in the same mode (the jail is not
    taken for broken), without groups, and the report says why."""
    import sys

    from hw11grader.boundary import ChildBoundary, Limits, sandbox
    from hw11grader.loading import load

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(sandbox, "_PLAN_CACHE", {})
    path = tmp_path / "hw11.py"
    path.write_text(WHERE)
    with ChildBoundary(load(path), Limits()) as boundary:
        mode = boundary.plan.mode
        boundary.group.procs[:] = ["/nonexistent/hw11/cgroup.procs"]  # (the list the spawn reads)
        assert boundary.start().status == "ok"
        cwd = boundary.call("where", seed=0)
        plan = sandbox.plan(Limits().sandbox, sys.executable)
        assert boundary.group is None and plan.groups == () and plan.mode == mode
        assert (cwd == "/hw11/work") == (mode == "jail") and boundary.starts == 2
        assert not any(item in plan.in_force for item in sandbox.GROUP_IN_FORCE.values())
        assert any(u.startswith("one memory limit for all the child's processes together (hw11")
                   and "joining the child's cgroup failed: /nonexistent/hw11/cgroup.procs" in u
                   for u in plan.unavailable), plan.unavailable
