"""The HW11 grading engine.

Load a submission -> run it in a child process -> call it through a
plain-data boundary -> judge against the reference -> score -> report.
The engine knows no question: checks and answers are content (``checks/``,
``reference/``). Public surface: ``grade``, ``load_content``, ``Limits``.
"""
import os as _os

# The grader's own numpy work (the experiments) is many small products: one BLAS thread
# (a multi-threaded BLAS is several times slower when the child busies the other core).
# Effective when the grader is the first to import numpy, as in grader.py and batch workers.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    _os.environ.setdefault(_name, "1")

__all__ = ["grade", "load_content", "Limits"]


def __getattr__(name):
    """The public surface, imported on first use (``import hw11grader.cli`` stays light, so the
    child can be started before the grader imports Hypothesis, sympy and the checks)."""
    if name == "Limits":
        from hw11grader.boundary import Limits
        return Limits
    if name == "load_content":
        from hw11grader.judge.registry import load_content
        return load_content
    if name == "grade":
        from hw11grader.judge.runner import grade
        return grade
    raise AttributeError(f"module 'hw11grader' has no attribute {name!r}")
