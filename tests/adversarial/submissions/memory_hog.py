"""Allocates without bound, at import and in a function."""
hog = []
try:
    while True:
        hog.append(bytearray(256 * 1024 * 1024))
except MemoryError:
    hog = None
def lora_grads(G, A, B):
    x = []
    while True:
        x.append(bytearray(512 * 1024 * 1024))
