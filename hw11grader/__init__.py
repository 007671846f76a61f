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

from hw11grader.boundary import Limits  # noqa: E402
from hw11grader.judge.registry import load_content  # noqa: E402
from hw11grader.judge.runner import grade  # noqa: E402

__all__ = ["grade", "load_content", "Limits"]
