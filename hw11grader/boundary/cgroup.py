"""A cgroup of its own per grading (as root): a child's processes share one memory limit and one CPU share.

``RLIMIT_AS`` bounds each process of the child, and the scheduler is fair to
processes (or, with autogroup, to sessions), not to students. So a
submission that forks its 256 allowed processes could

* fill each one: far more memory than the machine has, and the kernel's OOM
  killer would then pick the biggest process on the machine - an honest
  classmate's child or a grader;
* keep each one busy, each in a session of its own: a classmate graded at the
  same time got 0.11 s of CPU per second instead of 1.0 (measured beside 16
  such processes on this 2-core machine), so its calls time out.

In a cgroup of its own for each controller here (``memory``: limited to the
child's memory limit, ``memory.limit_in_bytes`` in cgroup v1, ``memory.max``
in v2; ``cpu``: the default weight, as one process of the grader has), the
child's whole tree is reclaimed and, past the limit, OOM-killed inside its own
group, and shares the CPU as one: what it does costs only itself.

The groups are made by the grader, under the grader's own cgroups, before the
child starts, and the child joins them before it is anything but our own
code: ``jail.py`` writes to each ``cgroup.procs`` as its first act (jail
mode), or a shell ``exec``\\ s the rest of the command after writing its own
pid into them (setpriv mode). Every later process of the child inherits
them. Neither mode shows ``/sys`` to the child, and it runs unprivileged, so
it cannot leave them.

Without root, or without a controller we can make groups in (v2 needs it
delegated to our cgroup's children already: we never change the machine's
cgroup configuration), the report lists the protection as unavailable.
"""
from __future__ import annotations

import itertools
import os
import signal
import time

CONTROLLERS = ("memory", "cpu")
# what a child that could not join its groups says on stderr (jail.py, the setpriv shell): the
# boundary then starts it again without groups rather than taking the jail for broken
JOIN_FAILED = "joining the child's cgroup failed"
_counter = itertools.count()


def _controller_dir(controller, proc_cgroup="/proc/self/cgroup", mountinfo="/proc/self/mountinfo"):
    """(version, our cgroup's folder for ``controller``) or (None, why not)."""
    try:
        with open(proc_cgroup) as f:
            lines = f.read().splitlines()
        with open(mountinfo) as f:
            mounts = f.read().splitlines()
    except OSError as e:
        return None, f"cannot read /proc/self/cgroup ({e.strerror})"
    paths = {}
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            for name in parts[1].split(",") if parts[1] else [""]:
                paths[name] = parts[2]
    for line in mounts:
        fields = line.split()
        try:
            dash = fields.index("-")
        except ValueError:
            continue
        root, point, fstype = fields[3], fields[4], fields[dash + 1]
        options = fields[dash + 3].split(",") if len(fields) > dash + 3 else []
        if fstype == "cgroup" and controller in options and controller in paths:
            version, path = 1, paths[controller]
        elif fstype == "cgroup2" and "" in paths:
            version, path = 2, paths[""]
        else:
            continue
        if root != "/" and not (path == root or path.startswith(root.rstrip("/") + "/")):
            continue
        rel = path[len(root):] if root != "/" else path
        folder = os.path.normpath(os.path.join(point, rel.lstrip("/")))
        if version == 2:
            try:
                with open(os.path.join(folder, "cgroup.subtree_control")) as f:
                    if controller not in f.read().split():
                        continue
            except OSError:
                continue
        if os.access(folder, os.W_OK):
            _remove_stale(folder)
            probe = os.path.join(folder, f"hw11-probe-{os.getpid()}-{next(_counter)}")
            try:  # a folder that says it is writable may still refuse groups (a read-only mount)
                os.mkdir(probe, 0o755)
                os.rmdir(probe)
            except OSError as e:
                return None, f"making a {controller} cgroup in {folder} failed: {e.strerror}"
            return version, folder
    return None, f"no {controller} cgroup the grader may make groups in"


def _remove_stale(folder):
    """Groups left by a grader that was killed before it removed them (its pid is gone): removed
    when empty (a group with a process in it refuses)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        parts = name.split("-")
        if parts[0] != "hw11" or len(parts) < 3 or not parts[-2].isdigit():
            continue
        try:
            os.kill(int(parts[-2]), 0)
            continue  # its grader is alive
        except ProcessLookupError:
            pass
        except OSError:
            continue
        try:
            os.rmdir(os.path.join(folder, name))
        except OSError:
            pass


_FOUND = {}


def found(controller):
    if controller not in _FOUND:
        _FOUND[controller] = _controller_dir(controller)
    return _FOUND[controller]


def available(controller="memory"):
    """'' when groups of ``controller`` can be made here, else why not (found once per process)."""
    version, where = found(controller)
    return "" if version else where


class ChildGroup:
    """Groups of their own for one child's processes: ``memory`` limited to ``limit_bytes``, and ``cpu``."""

    def __init__(self, limit_bytes: int, controllers=CONTROLLERS):
        self.folders = {}  # controller -> (version, our group's folder); one folder for both in v2
        name = f"hw11-{os.getpid()}-{next(_counter)}"
        try:
            for controller in controllers:
                version, parent = found(controller)
                if not version:
                    raise OSError(parent)
                folder = os.path.join(parent, name)
                if folder not in {f for _, f in self.folders.values()}:
                    os.mkdir(folder, 0o755)
                self.folders[controller] = (version, folder)
            if "memory" in self.folders:
                version, folder = self.folders["memory"]
                if version == 1:
                    _write(folder, "memory.limit_in_bytes", limit_bytes)
                else:
                    _write(folder, "memory.max", limit_bytes)
                    try:
                        _write(folder, "memory.swap.max", 0)
                    except OSError:
                        pass
        except OSError:
            self.remove()
            raise
        # what the child writes "0" (itself) into, one per folder
        self.procs = sorted({os.path.join(f, "cgroup.procs") for _, f in self.folders.values()})

    def _file(self, controller, v1, v2):
        version, folder = self.folders[controller]
        return os.path.join(folder, v1 if version == 1 else v2)

    def members(self) -> list:
        pids = set()
        for _, folder in self.folders.values():
            try:
                with open(os.path.join(folder, "cgroup.procs")) as f:
                    pids.update(int(x) for x in f.read().split())
            except (OSError, ValueError):
                pass
        return sorted(pids)

    def oom_kills(self) -> int:
        """How many of its processes the kernel has killed for going over the memory limit."""
        if "memory" not in self.folders:
            return 0
        try:
            with open(self._file("memory", "memory.oom_control", "memory.events")) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def limit(self) -> int:
        with open(self._file("memory", "memory.limit_in_bytes", "memory.max")) as f:
            return int(f.read())

    def remove(self, wait_s=2.0):
        """Kill whatever is still in them (the child is dead by now), then remove them."""
        end = time.monotonic() + wait_s
        left = sorted({f for _, f in self.folders.values()})
        while left:
            for pid in self.members():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            for folder in list(left):
                try:
                    os.rmdir(folder)
                    left.remove(folder)
                except FileNotFoundError:
                    left.remove(folder)
                except OSError:  # busy until its last process is reaped
                    pass
            if left:
                if time.monotonic() > end:
                    return False
                time.sleep(0.01)
        return True


def _write(folder, name, value):
    with open(os.path.join(folder, name), "w") as f:
        f.write(f"{value}\n")
