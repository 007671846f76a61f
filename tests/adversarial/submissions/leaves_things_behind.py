"""Answers nothing: leaves files in every shared writable folder, and a SysV
shared-memory segment and semaphore set, marked hw11-leftover."""
import ctypes
import os

MARK = "hw11-leftover"
for folder in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", os.path.expanduser("~"), os.getcwd()):
    for name in (MARK, "." + MARK):
        try:
            with open(os.path.join(folder, name), "w") as f:
                f.write("left behind\n")
        except OSError:
            pass
    try:
        os.makedirs(os.path.join(folder, MARK + "-dir", "deep"), exist_ok=True)
    except OSError:
        pass
libc = ctypes.CDLL(None, use_errno=True)
IPC_CREAT = 0o1000
key = 0x48313131  # "H111"
segment = libc.shmget(key, 64 << 20, IPC_CREAT | 0o666)
if segment >= 0:
    address = libc.shmat(segment, None, 0)
libc.semget(key, 4, IPC_CREAT | 0o666)
