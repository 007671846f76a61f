"""Prints over 100 MB to stdout and stderr."""
import sys
chunk = "x" * (1 << 20) + "\n"
for _ in range(60):
    sys.stdout.write(chunk)
    sys.stderr.write(chunk)
def lora_bytes(m, l, k, bytes_per_param=4):
    for _ in range(60):
        print(chunk)
    return 0
