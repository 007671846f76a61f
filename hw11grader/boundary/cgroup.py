"""One memory cgroup per grading (as root): all of a child's processes together stay under its limit.

``RLIMIT_AS`` bounds each process of the child; a submission that forks its
256 allowed processes and fills each would still take far more than the
machine has, and the kernel's OOM killer would then pick the biggest process
on the machine - an honest classmate's child or a grader. Put in a memory
cgroup of its own (``memory.limit_in_bytes`` in cgroup v1, ``memory.max`` in
v2), the child's whole tree is reclaimed and, past the limit, OOM-killed
inside its own group: what it does costs only itself.

The group is made by the grader, under the grader's own memory cgroup, before
the child starts, and the child joins it before it exists as anything but
our own code: ``jail.py`` writes to ``cgroup.procs`` as its first act (jail
mode), or a shell ``exec``\\ s the rest of the command after writing its own
pid (setpriv mode). Every later process of the child inherits it. Neither
mode mounts ``/sys`` for the child, and it runs unprivileged, so it cannot
leave it.

Without root, or without a memory controller we can write to (v2 needs it
delegated to our cgroup's children already: we never change the machine's
cgroup configuration), the report lists the protection as unavailable.
"""
from __future__ import annotations

import itertools
import os
import signal
import time

_counter = itertools.count()


def _controller_dir():
    """(version, our memory cgroup's folder) or (None, why not)."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
        with open("/proc/self/mountinfo") as f:
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
        if fstype == "cgroup" and "memory" in options and "memory" in paths:
            version, path = 1, paths["memory"]
        elif fstype == "cgroup2" and "" in paths:
            version, path = 2, paths[""]
        else:
            continue
        if root != "/" and not (path == root or path.startswith(root.rstrip("/") + "/")):
            continue
        rel = path[len(root):] if root != "/" else path
        folder = os.path.join(point, rel.lstrip("/"))
        if version == 2:
            try:
                with open(os.path.join(folder, "cgroup.subtree_control")) as f:
                    if "memory" not in f.read().split():
                        continue
            except OSError:
                continue
        if os.access(folder, os.W_OK):
            return version, folder
    return None, "no memory cgroup the grader may make groups in"


_FOUND = None


def available():
    """'' when memory groups can be made here, else why not (found once per process)."""
    global _FOUND
    if _FOUND is None:
        _FOUND = _controller_dir()
    return "" if _FOUND[0] else _FOUND[1]


class MemoryGroup:
    """A memory cgroup of its own for one child's processes, limited to ``limit_bytes``."""

    def __init__(self, limit_bytes: int):
        if available():
            raise OSError(available())
        self.version, parent = _FOUND
        self.path = os.path.join(parent, f"hw11-{os.getpid()}-{next(_counter)}")
        os.mkdir(self.path, 0o755)
        self.procs = os.path.join(self.path, "cgroup.procs")  # what the child writes "0" (itself) into
        try:
            if self.version == 1:
                self._write("memory.limit_in_bytes", limit_bytes)
            else:
                self._write("memory.max", limit_bytes)
                try:
                    self._write("memory.swap.max", 0)
                except OSError:
                    pass
        except OSError:
            self.remove()
            raise

    def _write(self, name, value):
        with open(os.path.join(self.path, name), "w") as f:
            f.write(f"{value}\n")

    def members(self) -> list:
        try:
            with open(self.procs) as f:
                return [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            return []

    def oom_kills(self) -> int:
        """How many of its processes the kernel has killed for going over the limit."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            with open(os.path.join(self.path, name)) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def limit(self) -> int:
        with open(os.path.join(self.path, "memory.limit_in_bytes" if self.version == 1 else "memory.max")) as f:
            return int(f.read())

    def remove(self, wait_s=2.0):
        """Kill whatever is still in it (the child is dead by now), then remove it."""
        end = time.monotonic() + wait_s
        while True:
            for pid in self.members():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                os.rmdir(self.path)
                return True
            except FileNotFoundError:
                return True
            except OSError:  # busy until its last process is reaped
                if time.monotonic() > end:
                    return False
                time.sleep(0.01)
