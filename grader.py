#!/usr/bin/env python3
"""HW11 grader: ``python grader.py [SUBMISSION] [-q Q ...] [--all] [--json PATH]``.

See README.md and ../shared/spec/cli.md. The engine lives in ``hw11grader/``.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hw11grader.cli import fast_exit_applies, leave, main  # noqa: E402


def check(question=None):
    """Self-check the live definitions of this notebook: public checks only.

    ``grader.check("q3")`` checks one question, ``grader.check()`` all of them.
    Runs in your own kernel (see hw11grader/report/notebook.py); the grade itself
    comes from ``python grader.py``, which runs your code in a separate process.
    """
    import __main__

    from hw11grader.report.notebook import check_namespace

    return check_namespace(vars(__main__), question)


def check_all():
    """Self-check every question (public checks only)."""
    return check(None)

if __name__ == "__main__":
    try:
        code = main()
    except KeyboardInterrupt:
        code = 130
    except Exception as e:  # the grader itself failed: exit 1, never a student's score
        print(f"grader.py: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        code = 1
    if fast_exit_applies(sys.argv[1:]):
        leave(code)  # (the report is out: skip the interpreter's teardown of sympy and Hypothesis)
    sys.exit(code)
