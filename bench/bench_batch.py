"""Throughput of `grader.py batch` with 1, 2, ... worker processes.

Grades K copies of the correct submission (each in its own student folder)
with `--jobs J` for each J asked, through the CLI in a subprocess, and
reports wall time, submissions per minute and the CPU time used by the
batch and everything it started. Usage:
`python bench/bench_batch.py [--copies K] [--jobs 1 2]`.
"""
import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORRECT = ROOT / "tests" / "submissions" / "correct.py"


def run(folder, jobs):
    out = folder.parent / f"grades-{jobs}.csv"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "grader.py"), "batch", str(folder), "--out", str(out),
                    "--jobs", str(jobs)], check=True, capture_output=True, cwd=ROOT)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rows = out.read_text().splitlines()[1:]
    assert all(r.endswith(",ok") for r in rows), rows
    return wall, cpu, len(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--copies", type=int, default=4)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hw11-bench-batch-"))
    try:
        folder = tmp / "class"
        for i in range(args.copies):
            (folder / f"student{i:02d}").mkdir(parents=True)
            shutil.copy(CORRECT, folder / f"student{i:02d}" / "hw11.py")
        print(f"{args.copies} copies of {CORRECT.name}")
        print(f"{'jobs':>4} {'wall s':>8} {'per min':>8} {'CPU s':>8}")
        for jobs in args.jobs:
            wall, cpu, n = run(folder, jobs)
            print(f"{jobs:>4} {wall:8.1f} {60 * n / wall:8.1f} {cpu:8.1f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
