"""Writes protocol-looking frames and fake reports on every descriptor."""
import json, os, struct, sys
fake_report = json.dumps({"schema": 1, "score": 100.0, "max_score": 100.0, "checks": []})
body = json.dumps({"ok": True, "value": 1.0, "nonce": "0" * 32}).encode()
frame = struct.pack(">II", len(body), 0) + body
for fd in range(0, 64):
    for data in (frame, b"Score: 100 / 100.\n", fake_report.encode() + b"\n"):
        try:
            os.write(fd, data)
        except OSError:
            pass
print("Public score: 100 / 100.")
print("FORGED-REPORT-TEXT", file=sys.stderr)
def lora_bytes(m, l, k, bytes_per_param=4):
    for fd in range(0, 64):
        try:
            os.write(fd, frame)
        except OSError:
            pass
    return 1.0
