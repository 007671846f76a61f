"""The course-staff commands of cli.md: gradescope, batch, build, written, stats.

``run(name, args)`` dispatches to the command's module in ``hw11grader/staff/``.
"""
from __future__ import annotations

import argparse


def run(name: str, args: list) -> int:
    if name == "gradescope":
        from hw11grader.staff import gradescope
        return gradescope.main(args)
    if name == "batch":
        from hw11grader.staff import batch
        return batch.main(args)
    if name == "build":
        return _build(args)
    if name == "written":
        from hw11grader.staff import written
        return written.main(args)
    if name == "stats":
        from hw11grader.staff import stats
        return stats.main(args)
    raise SystemExit(f"grader.py: unknown command {name}")


def _build(args) -> int:
    p = argparse.ArgumentParser(prog="python grader.py build",
                                description="Build the Gradescope autograder zip or the student kit.")
    p.add_argument("what", choices=("gradescope", "student"))
    p.add_argument("--out", required=True, help="the zip (gradescope) or a new folder (student)")
    a = p.parse_args(args)
    if a.what == "gradescope":
        from hw11grader.staff import gradescope
        return gradescope.build(a.out)
    from hw11grader.staff import kit
    return kit.main(a.out)
