"""Starts many processes and a setsid daemon that tries to outlive the grading."""
import os, sys, time
MARK = "hw11-adversarial-daemon"
for _ in range(40):
    try:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
    except OSError:
        break
try:
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c",
                     f"import time\nwhile True: time.sleep(0.2)  # {MARK}"])
        os._exit(0)
except OSError:
    pass
def lora_grads(G, A, B):
    if os.fork() == 0:
        os.setsid()
        os.execv(sys.executable, [sys.executable, "-c", f"import time\nwhile True: time.sleep(0.2)  # {MARK}"])
    return 0, 0
