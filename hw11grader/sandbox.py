"""How the child is confined, and what the report says about it.

As root (CI, Gradescope) the child runs:
  * as an unprivileged user (``hw11-sandbox`` if it exists, else ``nobody``)
    through ``setpriv`` (no new privileges, no supplementary groups), so it can
    neither read the grader's secrets (made root-only before any child starts)
    nor signal the grader;
  * in new PID and network namespaces through ``unshare``: when the child dies
    every process it started dies with it (even ``setsid`` daemons), and it
    has no network (only a loopback device that is down).
Always (root or not):
  * its own session and process group, killed with SIGKILL;
  * resource limits applied by the child program to itself before any
    student code runs (soft = hard, so they cannot be raised again);
  * orphans re-parented to the grader (a child subreaper) are killed after
    each child, which catches double-forked and ``setsid`` descendants even
    without namespaces;
  * a scratch working directory holding only the submission, and a
    ``sys.path`` without the grader's tree.
"""
from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path

SANDBOX_USERS = ("hw11-sandbox", "nobody")


@dataclass(frozen=True)
class SandboxConfig:
    """Limits on the child (all configurable; defaults stated in the README)."""

    cpu_seconds: int = 300  # CPU time of one child process (a backstop; calls have wall-clock limits)
    address_space_mb: int = 2048  # virtual memory (torch alone maps ~0.8 GB)
    processes: int = 256  # processes and threads of the sandbox user
    file_size_mb: int = 64  # largest file the child may write
    open_files: int = 256
    isolate: bool = True  # use privilege drop + namespaces when root

    def rlimits(self) -> dict:
        return {"RLIMIT_CPU": self.cpu_seconds, "RLIMIT_AS": self.address_space_mb * 2**20,
                "RLIMIT_NPROC": self.processes, "RLIMIT_FSIZE": self.file_size_mb * 2**20,
                "RLIMIT_NOFILE": self.open_files}


@dataclass
class Plan:
    """What this grading will use, and what it could not."""

    prefix: list = field(default_factory=list)  # command run before python
    user: tuple | None = None  # (uid, gid) of the child, when dropping privileges
    in_force: list = field(default_factory=list)
    unavailable: list = field(default_factory=list)


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def sandbox_user():
    for name in SANDBOX_USERS:
        try:
            pw = pwd.getpwnam(name)
            return name, pw.pw_uid, pw.pw_gid
        except KeyError:
            continue
    return None


def can_run_as(uid, gid, python) -> bool:
    """The sandbox user must be able to run the interpreter (e.g. not under a 0700 /root)."""
    import subprocess

    setpriv = shutil.which("setpriv")
    if not setpriv:
        return False
    try:
        r = subprocess.run([setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                            python, "-s", "-c", "import numpy"], capture_output=True, timeout=30,
                           cwd="/", env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        return r.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


_PLAN_CACHE = {}


def plan(config: SandboxConfig, python: str) -> Plan:
    key = (config, python)
    if key in _PLAN_CACHE:
        return _PLAN_CACHE[key]
    p = Plan()
    p.in_force += ["child process in its own session, killed with its process group",
                   "resource limits (CPU, memory, processes, file size, open files)",
                   "scratch working directory holding only the submission",
                   "the grader's folder is not on the child's sys.path",
                   "private result channel with a per-run nonce"]
    if enable_subreaper():
        p.in_force.append("orphaned descendants are reaped and killed after each child")
    else:
        p.unavailable.append("killing double-forked descendants (no child-subreaper support)")
    if not config.isolate:
        p.unavailable.append("privilege drop and namespaces (disabled by configuration)")
    elif not is_root():
        p.unavailable += [
            "unprivileged child user (needs root): the child runs as you and could read the grader's files",
            "PID namespace (needs root)", "network isolation (needs root): the child may use the network",
            "protection of the grader process from signals (needs root)"]
    else:
        unshare = shutil.which("unshare")
        setpriv = shutil.which("setpriv")
        if unshare:
            p.prefix += [unshare, "--pid", "--fork", "--kill-child", "--net"]
            p.in_force += ["PID namespace: every descendant dies with the child",
                           "network namespace: no network"]
        else:
            p.unavailable += ["PID namespace (unshare not found)", "network isolation (unshare not found)"]
        user = sandbox_user()
        if user and setpriv and can_run_as(user[1], user[2], python):
            p.prefix += [setpriv, f"--reuid={user[1]}", f"--regid={user[2]}", "--clear-groups",
                         "--no-new-privs"]
            p.user = (user[1], user[2])
            p.in_force.append(f"child runs as the unprivileged user {user[0]}; "
                              "the grader's answers, checks and configuration are root-only")
        else:
            why = ("no setpriv" if not setpriv else "no sandbox user" if not user
                   else f"user {user[0]} cannot run {python} (run 'make sandbox' as root)")
            p.unavailable.append(f"unprivileged child user ({why}): the child runs as root")
    _PLAN_CACHE[key] = p
    return p


def protect_secrets(paths):
    """Root only: the grader's secret folders become readable by root alone."""
    for path in paths:
        path = Path(path)
        if path.exists():
            os.chmod(path, 0o700)


def prepare_folders(tmp: Path, runtime: Path, work: Path, user):
    """Runtime readable by the child; work owned by it; nothing else reachable."""
    os.chmod(tmp, 0o711)
    for root, dirs, files in os.walk(runtime):
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    if user is not None:
        for root, dirs, files in os.walk(work):
            os.chown(root, *user)
            for f in files:
                os.chown(os.path.join(root, f), *user)
        os.chmod(work, 0o700)


PR_SET_CHILD_SUBREAPER = 36
_SUBREAPER = {}


def enable_subreaper() -> bool:
    """Orphans of the child become our children (Linux), so they can be killed."""
    if "on" in _SUBREAPER:
        return _SUBREAPER["on"]
    ok = False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        ok = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        ok = False
    _SUBREAPER["on"] = ok
    return ok


def kill_orphans(keep=()):
    """Kill (and reap) every process re-parented to us, except those in ``keep``."""
    me = os.getpid()
    for _ in range(20):
        found = []
        try:
            entries = os.listdir("/proc")
        except OSError:
            return
        for name in entries:
            if not name.isdigit() or int(name) in keep:
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    stat = f.read().decode("ascii", "replace")
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == me:
                found.append(int(name))
        if not found:
            return
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for pid in found:
            try:
                os.waitpid(pid, 0)
            except (ChildProcessError, OSError):
                pass


WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm")


def remove_leftovers(uid):
    """Root only: delete what the sandbox user left in world-writable folders.

    Only direct entries owned by that user are removed; the grader's own
    scratch folders belong to root and are skipped.
    """
    if uid is None or uid == 0:
        return
    for folder in WORLD_WRITABLE:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if st.st_uid != uid:
                continue
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.unlink(path)
            except OSError:
                pass
