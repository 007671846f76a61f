"""Gradescope: ``grader.py gradescope [--root DIR]`` and ``grader.py build gradescope --out ZIP``.

``main`` grades ``ROOT/submission/`` in "all" mode and writes
``ROOT/results/results.json`` in Gradescope's format (see
../shared/spec/gradescope.md). The file is always valid: if the grader
itself fails, a last-ditch handler writes a visible "Autograder error" test
and prints the traceback to stderr only. It is written atomically by this
(parent) process once grading is over and the child is gone.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import sys
import time
import traceback
import zipfile
from pathlib import Path

from hw11grader.commands import find_submission, write_atomic
from hw11grader.text import escape, md_inline

REPO_DIR = Path(__file__).resolve().parent.parent.parent
TEMPLATES = REPO_DIR / "tools" / "gradescope"
# Gradescope kills a run after 10 minutes by default and then shows nothing:
# grading stops well before that so that results.json is always written.
TIME_LIMIT_S = 420.0
BACKSTOP_S = 90.0  # extra seconds before the alarm that ends a stuck grading
MESSAGE_CAP = 20_000  # characters per test output (Gradescope truncates near 100,000)
ERROR_TEXT = ("The autograder itself failed while grading this submission. This is not your fault and "
              "your score is not final: please tell the course staff (they can see what went wrong).")


class _OutOfTime(SystemExit):
    """Raised by the backstop alarm; a SystemExit so that no check swallows it."""


def main(args) -> int:
    from hw11grader.cli import add_limit_options, limits_from

    p = argparse.ArgumentParser(prog="python grader.py gradescope",
                                description="Grade ROOT/submission/ and write ROOT/results/results.json.")
    p.add_argument("--root", default="/autograder", help="Gradescope's folder (default /autograder)")
    add_limit_options(p)
    p.set_defaults(time_limit=TIME_LIMIT_S)
    a = p.parse_args(args)
    root = Path(a.root)
    started = time.monotonic()
    out = root / "results" / "results.json"
    try:
        limits = limits_from(a)
        with _backstop(limits.submission_timeout + BACKSTOP_S):
            results = grade_root(root, limits, started)
        text = json.dumps(results, indent=2, allow_nan=False)
    except BaseException as e:  # noqa: BLE001 - the last-ditch handler, by design
        if isinstance(e, KeyboardInterrupt):
            raise
        print("gradescope: the grader failed; writing an 'Autograder error' result", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        text = json.dumps(error_results(time.monotonic() - started, out_of_time=isinstance(e, _OutOfTime)),
                          indent=2)
    try:
        write_atomic(out, text + "\n")
    except OSError as e:
        print(f"gradescope: cannot write {out}: {e}", file=sys.stderr)
        return 1
    return 0


class _backstop:
    """SIGALRM after ``seconds``: a grading stuck outside any time limit still ends in a result."""

    def __init__(self, seconds):
        self.seconds = max(1, int(math.ceil(seconds)))
        self.active = False

    def _fire(self, signum, frame):
        raise _OutOfTime("the grading took too long")

    def __enter__(self):
        if hasattr(signal, "SIGALRM") and _main_thread():
            self.previous = signal.signal(signal.SIGALRM, self._fire)
            signal.alarm(self.seconds)
            self.active = True
        return self

    def __exit__(self, *exc):
        if self.active:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, self.previous)


def _main_thread():
    import threading
    return threading.current_thread() is threading.main_thread()


class Recording:
    """A boundary factory that remembers the boundary (its manifest holds WRITTEN)."""

    def __init__(self):
        from hw11grader.boundary import ChildBoundary
        self.factory = ChildBoundary
        self.submission = None
        self.boundary = None

    def __call__(self, submission, limits):
        self.submission = submission
        self.boundary = self.factory(submission, limits)
        return self.boundary


def grade_root(root: Path, limits, started=None) -> dict:
    """Grade the submission under ``root/submission`` and return results.json's content."""
    from hw11grader.judge.registry import load_content
    from hw11grader.judge.runner import Graded, grade, written_answers

    started = time.monotonic() if started is None else started
    content = load_content()
    found = find_submission(root / "submission")
    print(f"gradescope: {escape(found.note, newlines=False)}")
    if found.path is None:
        results = [_not_run(e, "not run: no submission file to grade (" + found.note + ")")
                   for e in content.entries]
        graded = Graded("(none)", "all", results, content, {k: "missing" for k in content.written_keys},
                        [found.note])
        return results_json(graded, content, found.note, {}, time.monotonic() - started, picked=False)
    recording = Recording()
    graded = grade(found.path, content, mode="all", limits=limits, boundary_factory=recording)
    texts = {}
    if recording.boundary is not None:
        texts = written_answers(content, recording.submission, recording.boundary.manifest)
    from hw11grader.report.terminal import render_text
    sys.stdout.write(render_text(graded))  # staff only: stdout_visibility is hidden
    if graded.output:
        print("---- the submission's own output (first 64 KB, control characters escaped) ----")
        print(escape(graded.output))
    return results_json(graded, content, found.note, texts, time.monotonic() - started)


def _not_run(entry, message):
    from hw11grader.outcomes import CheckResult
    return CheckResult(entry.id, entry.question, "missing", 0.0, entry.points, entry.visibility, message)


def _question_number(qid: str, index: int) -> int:
    m = re.match(r"q(\d+)", qid)
    return int(m.group(1)) if m else index + 1


def _short(doc: str, limit=90) -> str:
    first = " ".join(doc.strip().split("\n\n")[0].split())
    first = re.split(r"(?<=[.:;])\s", first, maxsplit=1)[0].rstrip(".:;")
    return first if len(first) <= limit else first[: limit - 3].rstrip() + "..."


def _cap(text: str) -> str:
    """Student text as a test's output: control characters escaped, at most MESSAGE_CAP characters."""
    text = escape(text)
    return text if len(text) <= MESSAGE_CAP else text[:MESSAGE_CAP] + f"\n[... {len(text) - MESSAGE_CAP} more characters]"


def _pts(x) -> str:
    return f"{x:g}"


def results_json(graded, content, note: str, written_text: dict, elapsed: float, picked=True) -> dict:
    """Gradescope's results.json for a finished grading (plain data, JSON-ready)."""
    qnum = {q.id: _question_number(q.id, i) for i, q in enumerate(content.questions)}
    docs = {e.id: e.spec.doc for e in content.entries}
    counts = {}
    for r in graded.results:
        counts[r.question] = counts.get(r.question, 0) + 1
    width = max(2, len(str(max(counts.values(), default=1))))
    seen = {}
    tests = []
    for r in graded.results:
        seen[r.question] = seen.get(r.question, 0) + 1
        short = _short(docs.get(r.id, ""))
        message = r.message if r.status in ("passed", "failed") else f"[{r.status}] {r.message}".rstrip()
        tests.append({
            "name": f"{r.id}: {short}" if short else r.id,
            "number": f"{qnum.get(r.question, 99)}.{seen[r.question]:0{width}d}",
            "score": _num(r.score), "max_score": _num(r.max_score),
            "status": "passed" if r.status == "passed" else "failed",
            "output": _cap(message),
            "visibility": "visible" if r.visibility == "public" else "after_published",
        })
    after = max(qnum.values(), default=0) + 1
    for i, key in enumerate(content.written_keys, start=1):
        text = written_text.get(key)
        tests.append({
            "name": f"{key} (written, graded by hand)", "number": f"{after}.{i:02d}",
            "score": 0.0, "max_score": 0.0, "status": "passed" if text else "failed",
            "output": _cap(text) if text else "missing", "visibility": "visible",
        })
    score = _num(sum(r.score for r in graded.results))
    return {
        "score": score,
        "execution_time": round(float(elapsed), 3),
        "output": summary_markdown(graded, content, note, picked),
        "output_format": "md",
        "test_output_format": "text",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _num(x) -> float:
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"a score is not a finite number: {x}")
    return round(x, 6)


def summary_markdown(graded, content, note, picked=True) -> str:
    results = graded.results
    got = sum(r.score for r in results)
    out_of = sum(r.max_score for r in results)
    lines = [f"## HW11 autograder: {_pts(round(got, 6))} / {_pts(round(out_of, 6))}", ""]
    lines.append(("Submission: " if picked else "**No submission was graded**: ") + md_inline(note) + ".")
    lines += ["", "| Question | Score | Checks passed |", "|---|---:|---:|"]
    for q in content.questions:
        rs = [r for r in results if r.question == q.id]
        if rs:
            lines.append(f"| {q.id.upper()} {q.title} | {_pts(round(sum(r.score for r in rs), 6))} / "
                         f"{_pts(round(sum(r.max_score for r in rs), 6))} | "
                         f"{sum(r.status == 'passed' for r in rs)} / {len(rs)} |")
    lines.append("")
    hidden = [r for r in results if r.visibility == "hidden"]
    if hidden:
        lines.append(f"{len(hidden)} checks ({_pts(sum(r.max_score for r in hidden))} points) are hidden: they "
                     "count in the score above and their details appear once grades are published.")
    errors = sum(r.status == "grader_error" for r in results)
    if errors:
        lines.append(f"**The grader itself failed on {errors} check(s).** This is not your fault: the staff "
                     "will regrade.")
    missing = [k for k, v in graded.written.items() if v == "missing"]
    total = len(graded.written)
    if total:
        lines.append(f"Written answers (graded by hand): {total - len(missing)} of {total} present"
                     + (f"; missing: {', '.join(missing)}." if missing else "."))
    if graded.warnings:
        lines += ["", "Warnings:", "", "```"]
        for w in graded.warnings[:20]:
            w = escape(w).replace("```", "'''")  # escaped; and no run of 3 backticks can close the fence
            lines.append("- " + (w if len(w) <= 2000 else w[:2000] + " ..."))
        if len(graded.warnings) > 20:
            lines.append(f"- ... and {len(graded.warnings) - 20} more")
        lines.append("```")
    unavailable = (graded.protections or {}).get("unavailable") or []
    if unavailable:
        lines += ["", "Protections unavailable on this machine: " + "; ".join(unavailable) + "."]
    return "\n".join(lines).rstrip() + "\n"


def error_results(elapsed: float, out_of_time=False) -> dict:
    """results.json when the grader itself failed: valid, visible, details hidden."""
    why = ("The grading did not finish in time. " if out_of_time else "")
    return {
        "score": 0.0,
        "execution_time": round(float(elapsed), 3),
        "output": f"## HW11 autograder\n\n**Autograder error.** {why}{ERROR_TEXT}\n",
        "output_format": "md",
        "test_output_format": "text",
        "stdout_visibility": "hidden",
        "tests": [{"name": "Autograder error", "number": "0.01", "score": 0.0, "max_score": 0.0,
                   "status": "failed", "output": why + ERROR_TEXT, "visibility": "visible"}],
    }


# ---------------------------------------------------------------- build gradescope

ZIP_FILES = ("grader.py", "requirements.lock", "pyproject.toml", "tools/sandbox_setup.sh")
ZIP_FOLDERS = ("hw11grader", "checks", "reference", "experiments")
EXECUTABLE = {"setup.sh", "run_autograder", "tools/sandbox_setup.sh"}
FIXED_TIME = (2025, 1, 1, 0, 0, 0)  # the same bytes on every build


def zip_members(repo: Path = REPO_DIR) -> dict:
    """Name in the zip -> file on disk (setup.sh and run_autograder at the root)."""
    members = {"setup.sh": TEMPLATES / "setup.sh", "run_autograder": TEMPLATES / "run_autograder"}
    for name in ZIP_FILES:
        members[name] = repo / name
    for folder in ZIP_FOLDERS:
        for path in sorted((repo / folder).rglob("*")):
            rel = path.relative_to(repo)
            if path.is_file() and "__pycache__" not in rel.parts and path.suffix != ".pyc" \
                    and not any(part.startswith(".") for part in rel.parts):
                members[rel.as_posix()] = path
    return members


def build(out) -> int:
    out = Path(out)
    members = zip_members()
    missing = [name for name, path in members.items() if not path.is_file()]
    if missing:
        print(f"grader.py build gradescope: missing {', '.join(missing)}", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, path in members.items():
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = ((0o755 if name in EXECUTABLE else 0o644) | 0o100000) << 16
            z.writestr(info, path.read_bytes())
    os.replace(tmp, out)
    size = out.stat().st_size
    print(f"wrote {out} ({len(members)} files, {size / 1024:.0f} KB): upload it as the autograder "
          "(Configure Autograder > Zip file upload); see the README for the recommended settings")
    return 0
