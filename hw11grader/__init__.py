"""The HW11 grading engine.

Load a submission -> run it in a child process -> call it through a
plain-data boundary -> judge against the reference -> score -> report.
The engine knows no question: checks and answers are content (``checks/``,
``reference/``). Public surface: ``grade``, ``load_content``, ``Limits``.
"""
from .boundary import Limits
from .registry import load_content
from .runner import grade

__all__ = ["grade", "load_content", "Limits"]
