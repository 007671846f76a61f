"""The cost of the sandbox: child start-up and per-call overhead.

Starts a child on a tiny submission and times (1) start-up: Python start,
limits, loading the submission, and (2) the round trip of a trivial call and
of a call returning a 100x100 float64 array, with the sandbox as configured
(privilege drop and namespaces when root) and without isolation.
Usage: `python bench/bench_boundary.py [--calls N]`.
"""
import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hw11grader.boundary import ChildBoundary, Limits  # noqa: E402
from hw11grader.loading import load  # noqa: E402

SUBMISSION = "import torch\n\ndef echo(x):\n    return x\n\ndef big(n):\n    return torch.ones(n, n, dtype=torch.float64)\n"


def measure(isolate, calls, path):
    limits = Limits()
    limits = replace(limits, sandbox=replace(limits.sandbox, isolate=isolate))
    starts, echo, big = [], [], []
    for _ in range(3):
        t = time.perf_counter()
        b = ChildBoundary(load(path), limits)
        b.start()
        starts.append(time.perf_counter() - t)
        for _ in range(calls):
            t = time.perf_counter()
            b.call("echo", (1.5,), seed=0)
            echo.append(time.perf_counter() - t)
        for _ in range(max(1, calls // 10)):
            t = time.perf_counter()
            b.call("big", (100,), seed=0)
            big.append(time.perf_counter() - t)
        in_force = len(b.plan.in_force)
        b.close()
    return statistics.median(starts), statistics.median(echo), statistics.median(big), in_force


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hw11.py"
        path.write_text(SUBMISSION)
        print(f"{'mode':34} {'start-up s':>10} {'scalar call ms':>14} {'100x100 call ms':>15}")
        for label, isolate in (("sandbox as configured", True), ("no isolation (isolate=False)", False)):
            start, echo, big, n = measure(isolate, args.calls, path)
            print(f"{label:34} {start:10.2f} {echo * 1e3:14.3f} {big * 1e3:15.3f}   ({n} protections)")
    print("(medians; start-up includes importing torch in the child)")


if __name__ == "__main__":
    main()
