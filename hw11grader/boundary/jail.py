"""Builds the child's world, then becomes the child (run as root, stdlib only).

Started by the grader as ``unshare --mount --ipc --pid --net --fork
--kill-child python -I -S jail.py CONFIG`` when it runs as root. Inside the
new namespaces, before any student code exists, it:

1. mounts an empty tmpfs as the child's new root and puts in it, read-only,
   only the operating system (``/usr``, ``/etc`` and the usual symlinks) and
   the Python environment (its prefixes, at their own paths);
2. adds the child's own runtime folder (read-only) at ``/hw11/runtime`` and
   its scratch folder (writable: a tmpfs of its own holding a copy of the
   submission) at ``/hw11/work``; fresh, private ``/tmp``,
   ``/var/tmp``, ``/dev/shm`` and ``/run/lock`` (they vanish with the
   namespace); a minimal ``/dev``; a ``/proc`` that shows only this PID
   namespace;
3. pivots into that root and detaches the old one, so the grader's
   installation, other students' files and the host's processes are simply
   not there (deny by default: nothing is hidden by a list);
4. drops to the job's own unprivileged uid (no groups, no new privileges)
   and execs the child program.

First of all it joins the child's cgroups (``cgroup.py``), when the grader
made them. Nothing of the grader's answers is reachable from the new root, whatever
the file modes on the host.
"""
import ctypes
import json
import os
import stat
import sys

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS = 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41}

SYSTEM = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
DEVICES = ("null", "zero", "full", "random", "urandom")

libc = ctypes.CDLL(None, use_errno=True)


def fail(step, detail=""):
    err = ctypes.get_errno()
    sys.stderr.write(f"hw11 jail: {step} failed: {os.strerror(err) if err else ''} {detail}\n")
    os._exit(111)


def mount(source, target, fstype, flags, data=None):
    r = libc.mount(source.encode() if source else None, target.encode(),
                   fstype.encode() if fstype else None, ctypes.c_ulong(flags),
                   data.encode() if data else None)
    if r != 0:
        fail("mount", f"{source} -> {target}")


def makedirs(path, mode=0o755):
    os.makedirs(path, mode=mode, exist_ok=True)


def bind(source, target, writable=False):
    if os.path.isdir(source):
        makedirs(target)
    else:
        makedirs(os.path.dirname(target))
        with open(target, "a"):
            pass
    mount(source, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | (0 if writable else MS_RDONLY)
    mount(None, target, None, flags)


def tmpfs(target, size, mode="1777"):
    makedirs(target)
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode={mode}")


def fill_work(cfg, target):
    """The scratch folder: a tmpfs of its own, so what the child writes there is bounded (its size,
    and the pages count in the child's memory cgroup) and never fills the host's disk; it holds a
    copy of the regular files the grader put in ``cfg["work"]`` (the submission), owned by the child."""
    tmpfs(target, cfg["work_size"], mode="0700")
    for name in sorted(os.listdir(cfg["work"])):
        try:
            fd = os.open(os.path.join(cfg["work"], name), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        with os.fdopen(fd, "rb") as src:
            if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
                continue
            out = os.open(os.path.join(target, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(out, "wb") as dst:
                while True:
                    chunk = src.read(1 << 20)
                    if not chunk:
                        break
                    dst.write(chunk)
        os.chown(os.path.join(target, name), cfg["uid"], cfg["gid"])
    os.chown(target, cfg["uid"], cfg["gid"])


def build_root(cfg):
    root = cfg["root"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=0755")
    for path in SYSTEM:
        if os.path.islink(path):
            os.symlink(os.readlink(path), root + path)
        elif os.path.isdir(path):
            bind(path, root + path)
    bind(cfg["runtime"], root + "/hw11/runtime")
    if cfg.get("work_size"):
        fill_work(cfg, root + "/hw11/work")
    else:
        bind(cfg["work"], root + "/hw11/work", writable=True)
    makedirs(root + "/dev")
    for name in DEVICES:
        bind("/dev/" + name, root + "/dev/" + name, writable=True)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, root + "/dev/" + name)
    tmpfs(root + "/dev/shm", cfg["shm_size"])
    tmpfs(root + "/tmp", cfg["tmp_size"])
    tmpfs(root + "/var/tmp", cfg["shm_size"])
    tmpfs(root + "/run", "1m", mode="0755")
    makedirs(root + "/run/lock", 0o1777)
    os.chmod(root + "/run/lock", 0o1777)
    makedirs(root + "/proc")
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # the Python environment, read-only, at its own paths; last, so that one under /tmp (a CI clone)
    # is mounted on top of the private /tmp rather than hidden by it
    for path in cfg["environment"]:
        if not any(path == s or path.startswith(s + "/") for s in SYSTEM):
            bind(path, root + path)
    mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def enter_root(root):
    os.chdir(root)
    number = SYS_PIVOT_ROOT.get(os.uname().machine)
    if number is not None and libc.syscall(number, b".", b".") == 0:
        if libc.umount2(b".", MNT_DETACH) != 0:  # the old root, stacked under the new one
            fail("detaching the old root")
    else:
        os.chroot(".")
    os.chdir("/")


def drop_privileges(uid, gid):
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        fail("no_new_privs")
    if os.getuid() == 0 or os.geteuid() == 0:
        fail("dropping root")


def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    for procs in cfg.get("cgroup_procs") or []:  # first: every process the child makes inherits its cgroups
        try:
            with open(procs, "w") as f:
                f.write("0\n")
        except OSError as e:
            sys.stderr.write(f"hw11 jail: joining the child's cgroup failed: {procs}: {e}\n")  # cgroup.JOIN_FAILED
            os._exit(111)
    build_root(cfg)
    enter_root(cfg["root"])
    drop_privileges(cfg["uid"], cfg["gid"])
    os.chdir(cfg["cwd"])
    os.execve(cfg["argv"][0], cfg["argv"], cfg["env"])


if __name__ == "__main__":
    main()
