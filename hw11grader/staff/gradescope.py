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

from hw11grader.files import find_submission, write_atomic
from hw11grader.report.gradescope import error_results, results_json
from hw11grader.text import escape

REPO_DIR = Path(__file__).resolve().parent.parent.parent
TEMPLATES = REPO_DIR / "tools" / "gradescope"
# Gradescope kills a run after 10 minutes by default and then shows nothing:
# grading stops well before that so that results.json is always written.
TIME_LIMIT_S = 420.0
BACKSTOP_S = 90.0  # extra seconds before the alarm that ends a stuck grading


class _OutOfTime(SystemExit):
    """Raised by the backstop alarm; a SystemExit so that no check swallows it."""


def main(args) -> int:
    from hw11grader.options import add_limit_options, limits_from

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


def grade_root(root: Path, limits, started=None) -> dict:
    """Grade the submission under ``root/submission`` and return results.json's content."""
    from hw11grader.judge.registry import load_content
    from hw11grader.judge.runner import Graded, grade

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
    graded = grade(found.path, content, mode="all", limits=limits)
    texts = graded.written_text
    from hw11grader.report.terminal import render_text
    sys.stdout.write(render_text(graded))  # staff only: stdout_visibility is hidden
    if graded.output:
        print("---- the submission's own output (first 64 KB, control characters escaped) ----")
        print(escape(graded.output))
    return results_json(graded, content, found.note, texts, time.monotonic() - started)


def _not_run(entry, message):
    from hw11grader.outcomes import CheckResult
    return CheckResult(entry.id, entry.question, "missing", 0.0, entry.points, entry.visibility, message)


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
