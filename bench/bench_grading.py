"""Time a full `--all` grading, parent and child measured apart.

Each case runs in a fresh Python process that grades one submission through
the engine (exactly what `grader.py --all` does, minus printing) and reports
its own resource usage (the parent) and that of the processes it waited for
(the child, and any restarts). Usage: `python bench/bench_grading.py [--repeat N]`.
"""
import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = {
    "correct .py": ROOT / "tests/submissions/correct.py",
    "correct .ipynb": ROOT / "tests/submissions/correct.ipynb",
    "blank template": ROOT / "student_template/hw11.ipynb",
}
PROBE = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
t0, c0 = time.perf_counter(), time.process_time()
from hw11grader import grade, load_content
graded = grade(sys.argv[2], load_content(), mode="all")
wall = time.perf_counter() - t0
me = resource.getrusage(resource.RUSAGE_SELF)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({
    "wall_s": wall,
    "parent_cpu_s": me.ru_utime + me.ru_stime,
    "child_cpu_s": kids.ru_utime + kids.ru_stime,
    "parent_peak_rss_mb": me.ru_maxrss / 1024,
    "child_peak_rss_mb": kids.ru_maxrss / 1024,
    "score": sum(r.score for r in graded.results),
    "max_score": sum(r.max_score for r in graded.results),
}))
"""


def run_case(path):
    out = subprocess.run([sys.executable, "-c", PROBE, str(ROOT), str(path)],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    rows = {}
    print(f"{'case':16} {'wall s':>7} {'CPU parent':>10} {'CPU child':>9} "
          f"{'RSS parent MB':>13} {'RSS child MB':>12}  score")
    for name, path in CASES.items():
        runs = [run_case(path) for _ in range(args.repeat)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        rows[name] = med
        print(f"{name:16} {med['wall_s']:7.2f} {med['parent_cpu_s']:10.2f} {med['child_cpu_s']:9.2f} "
              f"{med['parent_peak_rss_mb']:13.0f} {med['child_peak_rss_mb']:12.0f}  "
              f"{med['score']:g}/{med['max_score']:g}")
    print(f"(median of {args.repeat} runs each; CPU = user + system)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
