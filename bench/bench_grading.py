"""Time gradings, parent and child measured apart, as ratios to a floor measured in the same run.

Each case runs in a fresh Python process that grades one submission through
the engine (exactly what `grader.py` does, minus printing, and ending the
same way: `cli.leave`) and reports its own resource usage (the parent) and
that of the processes it waited for (the child, and any restarts). Its wall
time is the whole process's, from starting Python to its exit, as for the
floor. The floor is sampled three times before the cases and once after
every case run (a machine's speed drifts within a run, by 10 % and more
here): the ratios are to the median of all its samples. The FLOOR is a fresh `python -c "import
torch"` (what any grading costs at least: the child imports torch), timed
in the same run, so the ratios compare across machines; the floor with the
cost of loading the submission itself (a fresh Python that imports torch and
runs the correct `.py`) is printed beside it.

Cases: a full `--all` grading of the correct `.py`, the correct `.ipynb` and
the blank template, and (`--questions`) a self-check of one question at a
time of the correct `.py`: the Q1, Q4 and Q7 cases are dominated by the
grader-owned experiments. Usage:
`python bench/bench_grading.py [--repeat N] [--questions q1 q4 ...] [--json FILE]`.
"""
import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = {
    "correct .py": ROOT / "tests/submissions/correct.py",
    "correct .ipynb": ROOT / "tests/submissions/correct.ipynb",
    "blank template": ROOT / "student_template/hw11.ipynb",
}
PROBE = r"""
import json, resource, sys, tempfile, time
sys.path.insert(0, sys.argv[1])
t0, c0 = time.perf_counter(), time.process_time()
from hw11grader import grade, load_content
mode, questions = sys.argv[3], (sys.argv[4].split(",") if len(sys.argv) > 4 else None)
feedback = tempfile.mkdtemp(prefix="hw11-bench-")  # the plots too, as `grader.py` writes them
graded = grade(sys.argv[2], lambda: load_content(questions=questions), mode=mode, questions=questions, feedback_dir=feedback)
grade_s = time.perf_counter() - t0
me = resource.getrusage(resource.RUSAGE_SELF)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({
    "grade_s": grade_s,
    "parent_cpu_s": me.ru_utime + me.ru_stime,
    "child_cpu_s": kids.ru_utime + kids.ru_stime,
    "parent_peak_rss_mb": me.ru_maxrss / 1024,
    "child_peak_rss_mb": kids.ru_maxrss / 1024,
    "plots": len(graded.plots),
    "score": sum(r.score for r in graded.results),
    "max_score": sum(r.max_score for r in graded.results),
}))
from hw11grader.cli import leave
leave(0)  # as grader.py ends a grading
"""


FLOOR = "import time; t = time.perf_counter(); import torch"
# The floor: also the cost of loading the submission itself (the correct .py, run as a script).
FLOOR_WITH_LOAD = "import runpy, sys; import torch; runpy.run_path(sys.argv[1])"


def floor_runs(code=FLOOR, *argv, n=3):
    """Wall times of ``n`` fresh Pythons that run ``code``."""
    runs = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, *argv], check=True, cwd=ROOT, capture_output=True)
        runs.append(time.perf_counter() - t)
    return runs


def run_case(path, mode="all", questions=None):
    argv = [sys.executable, "-c", PROBE, str(ROOT), str(path), mode]
    if questions:
        argv.append(",".join(questions))
    t = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=ROOT)
    wall = time.perf_counter() - t
    return {"wall_s": wall, **json.loads(out.stdout.strip().splitlines()[-1])}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--questions", nargs="*", default=None,
                    help="also self-check the correct .py one question at a time (default: none; "
                         "give no value for q1 q3 q4 q5 q6 q7)")
    ap.add_argument("--skip-full", action="store_true", help="only the per-question cases")
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    # the floor is sampled before the cases and again after every case run (a machine's speed drifts
    # within a run): the ratios are to the median of all its samples
    floors = floor_runs()
    with_load = statistics.median(floor_runs(FLOOR_WITH_LOAD, str(CASES["correct .py"])))
    cases = {} if args.skip_full else {name: (path, "all", None) for name, path in CASES.items()}
    if args.questions is not None:
        for q in args.questions or ["q1", "q3", "q4", "q5", "q6", "q7"]:
            cases[f"-q {q}"] = (CASES["correct .py"], "student", [q])
    meds = {}
    for name, (path, mode, questions) in cases.items():
        runs = []
        for _ in range(args.repeat):
            runs.append(run_case(path, mode, questions))
            floors += floor_runs(n=1)
        meds[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    floor = statistics.median(floors)
    print(f"floor (python -c 'import torch'): {floor:.2f} s, median of {len(floors)} samples taken through the run "
          f"({min(floors):.2f}-{max(floors):.2f} s); with the correct .py loaded too: {with_load:.2f} s "
          f"(the ratios below are to the first, the stricter)")
    rows = {"floor_s": floor, "floor_samples_s": floors, "floor_with_load_s": with_load}
    print(f"{'case':16} {'wall s':>7} {'x floor':>7} {'CPU parent':>10} {'CPU child':>9} "
          f"{'RSS parent MB':>13} {'RSS child MB':>12}  score")
    for name, med in meds.items():
        med["x_floor"] = med["wall_s"] / floor
        rows[name] = med
        print(f"{name:16} {med['wall_s']:7.2f} {med['x_floor']:7.2f} {med['parent_cpu_s']:10.2f} "
              f"{med['child_cpu_s']:9.2f} {med['parent_peak_rss_mb']:13.0f} {med['child_peak_rss_mb']:12.0f}  "
              f"{med['score']:g}/{med['max_score']:g}")
    print(f"(median of {args.repeat} runs each; CPU = user + system; x floor = wall / floor)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
