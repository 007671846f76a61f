"""``grader.py batch DIR --out FILE [--jobs N] [--shard I/N] [--all]``: grade a class.

Every entry of DIR is one student: a sub-directory (the submission is found
inside it at any depth, whatever its name; the id is the directory's name)
or a .ipynb / .py file (the id is its stem). Submissions are graded in "all"
mode by a pool of worker processes; each grading runs the student's code in
its own child process, so submissions are isolated from one another and from
the batch. ``--shard I/N`` keeps the ids whose sha256 is I-1 modulo N: stable
and disjoint, so N machines can share a class and concatenating their
outputs (shard 1 first: only it writes the CSV header) gives the gradebook.

Statuses (the ``status`` column, and ``"status"`` in each JSONL line):
``ok``, ``load_error`` (the submission could not be read or loaded: a
report with score 0), ``no_submission`` (no file found for that student),
``grader_error`` (the grader failed on it; the batch goes on and exits 1).
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import csv
import hashlib
import io
import json
import multiprocessing
import os
import sys
import time
import traceback
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path

from hw11grader.files import IGNORED_FOLDERS, SUFFIXES, find_submission, write_atomic
from hw11grader.text import escape_line

STATUSES = ("ok", "load_error", "no_submission", "grader_error")


@dataclass(frozen=True)
class Student:
    id: str
    path: str | None  # the file to grade, None when none was found
    note: str = ""


class UsageError(Exception):
    pass


def parse_shard(text: str):
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard wants I/N such as 2/4, not {text!r}") from None
    if not (n >= 1 and 1 <= i <= n):
        raise argparse.ArgumentTypeError(f"--shard {text}: need 1 <= I <= N")
    return i, n


def in_shard(student_id: str, shard) -> bool:
    if shard is None:
        return True
    i, n = shard
    h = int.from_bytes(hashlib.sha256(student_id.encode("utf-8")).digest()[:8], "big")
    return h % n == i - 1


def students(folder) -> list:
    """One ``Student`` per entry of ``folder``, sorted by id."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a directory")
    found, seen = [], {}
    for child in sorted(folder.iterdir()):
        if child.name.startswith(".") or child.name in IGNORED_FOLDERS or child.is_symlink():
            continue
        if child.is_dir():
            f = find_submission(child)
            s = Student(child.name, str(f.path) if f.path else None, f.note)
        elif child.suffix.lower() in SUFFIXES:
            s = Student(child.stem, str(child))
        else:
            continue
        if s.id in seen:
            raise UsageError(f"two entries have the id {s.id!r}: {seen[s.id]} and {child.name}")
        seen[s.id] = child.name
        found.append(s)
    return sorted(found, key=lambda s: s.id)


# ---------------------------------------------------------------- workers

_WORKER = {}


def _content():
    if "content" not in _WORKER:
        from hw11grader.judge.registry import load_content
        _WORKER["content"] = load_content()
    return _WORKER["content"]


def grade_student(student: Student, limits) -> dict:
    """The JSONL record of one student (runs in a worker process)."""
    try:
        content = _content()
        if student.path is None:
            return {"id": student.id, "status": "no_submission", "score": 0.0,
                    "max_score": sum(e.points for e in content.entries), "questions": {}, "checks": [],
                    "error": student.note}
        from hw11grader.judge.runner import grade
        from hw11grader.report.json_report import to_json

        graded = grade(Path(student.path), content, mode="all", limits=limits)
        record = {"id": student.id, **to_json(graded)}
        if any(r.status == "grader_error" for r in graded.results):
            record["status"] = "grader_error"
        elif graded.load_message or graded.nothing_loaded:
            record["status"] = "load_error"
        else:
            record["status"] = "ok"
        return record
    except Exception as e:  # noqa: BLE001 - one student's grader failure must not stop the batch
        return grader_failure(student, f"{type(e).__name__}: {e}", traceback.format_exc())


def grader_failure(student: Student, error: str, detail: str = "") -> dict:
    return {"id": student.id, "status": "grader_error", "score": 0.0, "max_score": None,
            "questions": {}, "checks": [], "submission": student.path, "error": error, "traceback": detail}


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def run_batch(todo, limits, jobs=1, worker=None, progress=None) -> list:
    """Grade ``todo`` (Students) in ``jobs`` worker processes; one record each, in any order.

    ``worker(student, limits) -> record`` must be a module-level function (it is sent to
    the workers by name); default ``grade_student``."""
    worker = worker or grade_student
    if jobs >= _cores():  # every core has a grading: polling a pipe would only take one from another
        limits = replace(limits, poll=False)
    records, retry = [], []
    ctx = multiprocessing.get_context("spawn")  # a clean interpreter: nothing inherited from the batch
    with cf.ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=ctx) as pool:
        futures = {pool.submit(worker, s, limits): s for s in todo}
        for fut in cf.as_completed(futures):
            s = futures[fut]
            try:
                record = fut.result()
            except BrokenProcessPool:
                retry.append(s)  # a worker died: which student did it is found out below
                continue
            except Exception as e:  # noqa: BLE001
                record = grader_failure(s, f"{type(e).__name__}: {e}")
            records.append(record)
            if progress:
                progress(record)
    for s in retry:  # one at a time, each in a pool of its own
        with cf.ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
            try:
                record = pool.submit(worker, s, limits).result()
            except BrokenProcessPool:
                record = grader_failure(s, "the grading process died (it was killed or crashed)")
            except Exception as e:  # noqa: BLE001
                record = grader_failure(s, f"{type(e).__name__}: {e}")
        records.append(record)
        if progress:
            progress(record)
    return records


# ---------------------------------------------------------------- output

def _fmt(x) -> str:
    return f"{round(float(x or 0.0), 6):g}"


def csv_text(records, question_ids, header=True) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if header:
        w.writerow(["id", "total", *question_ids, "status"])
    for r in sorted(records, key=lambda r: r["id"]):
        qs = r.get("questions") or {}
        w.writerow([r["id"], _fmt(r.get("score")), *(_fmt((qs.get(q) or {}).get("score")) for q in question_ids),
                    r["status"]])
    return buf.getvalue()


def jsonl_text(records) -> str:
    return "".join(json.dumps(r, sort_keys=False, allow_nan=False) + "\n"
                   for r in sorted(records, key=lambda r: r["id"]))


class Progress:
    """A progress bar on stderr (one line per student when stderr is not a terminal)."""

    def __init__(self, total, stream=None):
        self.total, self.done = total, 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()

    def __call__(self, record):
        self.done += 1
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.done * (self.total - self.done)
        if self.tty:
            width = 30
            filled = int(width * self.done / max(self.total, 1))
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                              f"graded, {elapsed:.0f} s, about {eta:.0f} s left ")
            if self.done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(f"[{self.done}/{self.total}] {escape_line(record['id'], limit=120)}: {_fmt(record.get('score'))} "
                              f"({record['status']})\n")
        self.stream.flush()


def main(args) -> int:
    from hw11grader.options import add_limit_options, limits_from

    p = argparse.ArgumentParser(prog="python grader.py batch",
                                description="Grade every submission under DIR (every check, hidden ones included).")
    p.add_argument("dir", help="one sub-directory or one .ipynb/.py file per student")
    p.add_argument("--out", required=True, help="FILE.csv (one row per student) or FILE.jsonl (one report per line)")
    p.add_argument("--jobs", type=int, default=_cores(), metavar="N",
                   help="worker processes (default: the number of CPUs this process may use)")
    p.add_argument("--shard", type=parse_shard, metavar="I/N", help="grade only the I-th of N stable slices")
    p.add_argument("--all", action="store_true", help="accepted for symmetry: batch always runs every check")
    add_limit_options(p)
    a = p.parse_args(args)
    out = Path(a.out)
    kind = out.suffix.lower()
    if kind not in (".csv", ".jsonl"):
        print("grader.py batch: --out must end in .csv or .jsonl", file=sys.stderr)
        return 2
    if a.jobs < 1:
        print("grader.py batch: --jobs must be at least 1", file=sys.stderr)
        return 2
    try:
        everyone = students(a.dir)
    except UsageError as e:
        print(f"grader.py batch: {e}", file=sys.stderr)
        return 2
    todo = [s for s in everyone if in_shard(s.id, a.shard)]
    from hw11grader.judge.registry import load_content
    question_ids = [q.id for q in load_content().questions]
    shard_text = f" (shard {a.shard[0]}/{a.shard[1]} of {len(everyone)})" if a.shard else ""
    print(f"batch: grading {len(todo)} submission(s){shard_text} with {a.jobs} job(s)", file=sys.stderr)
    started = time.monotonic()
    records = run_batch(todo, limits_from(a), jobs=a.jobs, progress=Progress(len(todo)))
    if kind == ".csv":
        text = csv_text(records, question_ids, header=a.shard is None or a.shard[0] == 1)
    else:
        text = jsonl_text(records)
    write_atomic(out, text)
    counts = {k: sum(r["status"] == k for r in records) for k in STATUSES}
    print(f"batch: {len(records)} graded in {time.monotonic() - started:.1f} s -> {out} ("
          + ", ".join(f"{k} {v}" for k, v in counts.items() if v) + ")", file=sys.stderr)
    for r in records:
        if r["status"] == "grader_error":
            detail = r.get("error") or f"{r.get('grader_errors', '?')} check(s) ended in grader_error"
            print(f"batch: GRADER ERROR on {escape_line(r['id'], limit=120)}: {detail}", file=sys.stderr)
    return 1 if counts["grader_error"] else 0
