"""The command line of cli.md (``grader.py`` is a thin wrapper around ``main``)."""
from __future__ import annotations

import argparse
import os
import sys

from hw11grader.report.json_report import write_json
from hw11grader.report.terminal import render_text
from hw11grader.options import add_limit_options, limits_from
from hw11grader.loading import LoadError, discover

COMMANDS = ("gradescope", "batch", "build", "written", "stats")


class UsageError(Exception):
    pass


def _single_parser():
    p = argparse.ArgumentParser(
        prog="python grader.py",
        description="Grade a HW11 submission (self-check by default: public checks only).",
        epilog="Other commands: gradescope, batch, build, written (see README).")
    p.add_argument("submission", nargs="?", help="hw11.py / hw11.ipynb, or a folder holding one "
                   "(default: ./hw11.ipynb, ./hw11.py, then student_template/)")
    p.add_argument("-q", dest="questions", nargs="+", metavar="Q", help="only these questions, e.g. -q q1 q5")
    p.add_argument("--all", action="store_true", help="run every check, hidden ones included")
    p.add_argument("--json", metavar="PATH", help="also write the JSON report to PATH")
    p.add_argument("--no-color", action="store_true", help="plain text output")
    p.add_argument("--explain", metavar="CHECK_ID",
                   help="say what a check tests, why, and how the reference computes it")
    p.add_argument("--feedback", metavar="DIR", default="hw11_feedback",
                   help="folder for the plots of your experiments (default: hw11_feedback)")
    add_limit_options(p)
    return p


class _progress:
    """A live progress line on a terminal (rich); nothing otherwise."""

    def __init__(self, enabled):
        self.enabled = enabled and sys.stderr.isatty()
        self.status = None

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.console import Console
        self.status = Console(stderr=True).status("starting the submission's process...")
        self.status.start()

        def update(i, n, entry):
            if entry is not None:
                self.status.update(f"[{i + 1}/{n}] {entry.id}")

        return update

    def __exit__(self, *exc):
        if self.status is not None:
            self.status.stop()


def leave(code: int):
    """End the process now, as a finished grading: what the interpreter's own exit would do that
    matters (``atexit`` handlers, flushing stdout and stderr), without its teardown of every module
    and object (0.1-0.15 s of a self-check: sympy, Hypothesis and numpy's objects). Only after a
    single grading (``grader.py [SUBMISSION] ...``), whose threads are daemons (the child's output
    drains, already joined) and whose files are written and closed; the other commands end as usual.
    A stdout that cannot be flushed (a closed pipe) gives 120, as Python's exit would."""
    import atexit
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 120
    os._exit(code)


def fast_exit_applies(argv) -> bool:
    """Whether ``leave`` may end this command line: a single grading, not a subcommand."""
    return not (argv and argv[0] in COMMANDS)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        from hw11grader import commands
        return commands.run(argv[0], argv[1:])
    args = _single_parser().parse_args(argv)  # exits 2 on bad usage
    from hw11grader.judge.registry import load_content, question_ids

    if args.explain:
        from hw11grader.staff.explain import explain
        try:
            sys.stdout.write(explain(load_content(), args.explain))
        except KeyError as e:
            print(f"grader.py: {e.args[0]}", file=sys.stderr)
            return 2
        return 0
    asked = [q.lower() for q in args.questions or []]
    known = set(question_ids())
    if args.questions:
        bad = [q for q in args.questions if q.lower() not in known]
        if bad:
            print(f"grader.py: unknown question(s) {', '.join(bad)}; choose from {', '.join(sorted(known))}",
                  file=sys.stderr)
            return 2
    try:
        path = discover(args.submission)
    except LoadError as e:
        print(f"grader.py: {e}", file=sys.stderr)
        return 2
    mode = "all" if args.all else "student"
    from hw11grader.judge.runner import grade

    colour = (not args.no_color and sys.stdout.isatty() and os.environ.get("NO_COLOR") is None)
    print(f"Grading {path} ...", file=sys.stderr) if not colour else None
    with _progress(colour) as progress:
        # the checks are loaded once the child is started (their imports overlap the submission's);
        # -q q5 imports Q5's checks and reference alone
        graded = grade(path, lambda: load_content(questions=asked), mode=mode, questions=asked,
                       limits=limits_from(args), feedback_dir=args.feedback, progress=progress)
    sys.stdout.write(render_text(graded, colour=colour))
    if args.json:
        write_json(graded, args.json)
    return 1 if any(r.status == "grader_error" for r in graded.results) else 0
