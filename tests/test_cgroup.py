"""Finding the grader's own cgroup for a controller (cgroup.py), on the layouts machines have.

The groups themselves (made, joined, limiting) are tested through the real
boundary as root in ``tests/adversarial/test_isolation.py``.
"""
from hw11grader.boundary import cgroup


def layout(tmp_path, proc_cgroup, mounts):
    (tmp_path / "cgroup").write_text(proc_cgroup)
    (tmp_path / "mountinfo").write_text(mounts)
    return str(tmp_path / "cgroup"), str(tmp_path / "mountinfo")


def test_v1_the_controllers_own_hierarchy_and_our_path_in_it(tmp_path):
    ours = tmp_path / "memory" / "jobs" / "abc"
    ours.mkdir(parents=True)
    (tmp_path / "cpu").mkdir()
    files = layout(tmp_path, "5:cpu,cpuacct:/\n4:memory:/jobs/abc\n0::/\n",
                   f"31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
                   f"35 31 0:32 / {tmp_path}/memory rw,relatime - cgroup cgroup rw,memory\n"
                   f"36 31 0:33 / {tmp_path}/cpu rw,relatime - cgroup cgroup rw,cpu,cpuacct\n")
    assert cgroup._controller_dir("memory", *files) == (1, str(ours))
    assert [p.name for p in ours.iterdir()] == []      # the probe group it made is gone
    assert cgroup._controller_dir("cpu", *files) == (1, str(tmp_path / "cpu"))   # a combined "cpu,cpuacct"
    assert cgroup._controller_dir("pids", *files) == (None, "no pids cgroup the grader may make groups in")


def test_v1_a_mount_of_a_subtree_strips_its_root(tmp_path):
    (tmp_path / "mem" / "abc").mkdir(parents=True)
    files = layout(tmp_path, "4:memory:/docker/abc\n",
                   f"35 31 0:32 /docker {tmp_path}/mem rw - cgroup cgroup rw,memory\n")
    assert cgroup._controller_dir("memory", *files) == (1, str(tmp_path / "mem" / "abc"))


def test_v2_only_where_the_controller_is_already_delegated(tmp_path):
    ours = tmp_path / "unified" / "user.slice"
    ours.mkdir(parents=True)
    files = layout(tmp_path, "0::/user.slice\n",
                   f"30 23 0:27 / {tmp_path}/unified rw - cgroup2 cgroup2 rw\n")
    (ours / "cgroup.subtree_control").write_text("cpu pids\n")
    assert cgroup._controller_dir("cpu", *files) == (2, str(ours))
    version, why = cgroup._controller_dir("memory", *files)       # not delegated: never enabled by us
    assert version is None and "memory" in why
    assert (ours / "cgroup.subtree_control").read_text() == "cpu pids\n"


def test_unreadable_proc_says_why(tmp_path):
    version, why = cgroup._controller_dir("memory", str(tmp_path / "missing"), str(tmp_path / "missing"))
    assert version is None and why.startswith("cannot read /proc/self/cgroup")


def test_groups_left_by_a_dead_grader_are_removed_when_empty(tmp_path):
    import os
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    ours = tmp_path / "memory"
    for name in (f"hw11-{dead}-0", f"hw11-probe-{dead}-3", f"hw11-{os.getpid()}-0", "hw11-x", "other-1-2"):
        (ours / name).mkdir(parents=True)
    (ours / f"hw11-{dead}-7").mkdir()
    (ours / f"hw11-{dead}-7" / "cgroup.procs").write_text("")  # not empty: as a group with a process refuses
    files = layout(tmp_path, "4:memory:/\n", f"35 31 0:32 / {ours} rw - cgroup cgroup rw,memory\n")
    assert cgroup._controller_dir("memory", *files) == (1, str(ours))
    assert sorted(p.name for p in ours.iterdir()) == sorted(
        [f"hw11-{os.getpid()}-0", f"hw11-{dead}-7", "hw11-x", "other-1-2"])
