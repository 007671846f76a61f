"""Ignores SIGTERM and SIGINT, then loops in a function."""
import signal
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
def lora_grads(G, A, B):
    while True:
        pass
