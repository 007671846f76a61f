"""Everything a check author imports, and nothing else: ``from hw11grader.authoring import ...``.

A check reads like a pytest test::

    @check("q1.lora_grads.matches_reference", uses=["lora_grads"])
    @given(dims=st.tuples(st.integers(1, 5), st.integers(1, 4), st.integers(1, 5)))
    def lora_grads_matches_reference(sub, dims):
        G, A, B = ...
        dA, dB = expect.parts(sub.lora_grads(G, A, B), 2, what="lora_grads(G, A, B)")
        expect.close(actual=dA, expected=G @ B.T, what="dA")

* ``check``, ``given``, ``example``, ``st``: mark a check, draw its inputs
  (Hypothesis, derandomized by the engine's grading profile);
* ``sub``: the submission (``sub.name(...)``, ``sub.answer(key)``,
  ``sub.experiment(...)``, ``sub.feedback(fn, ...)`` for plots and notes
  that can never change a verdict);
* ``expect``: staged comparisons that raise ``Failed`` with a message that
  names the input, what came back, what was expected and the tolerance;
* outcomes by cause (``hw11grader.outcomes``): ``Failed`` (a wrong value),
  ``Missing``, ``StudentError``, ``StudentTimeout`` (the student's), and
  ``GraderError`` (the grader's own data or code is at fault: never the
  student's);
* wire values: ``Generator``, ``Handle``, ``Symbol``, ``Opaque``, ``AsNumpy``.

Points and visibility live in ``checks/points.toml``, not in code.
"""
from hw11grader.boundary import AsNumpy
from hw11grader.boundary.child.wire import Generator, Handle, Opaque, Symbol
from hw11grader.judge import compare as expect
from hw11grader.judge import symbolic
from hw11grader.judge.checking import check, example, given, st
from hw11grader.values import show
from hw11grader.judge.tape import TapeMiss
from hw11grader.outcomes import Abort, Failed, GraderError, Missing, Outcome, StudentError, StudentTimeout

__all__ = ["AsNumpy", "Generator", "Handle", "Opaque", "Symbol", "expect", "symbolic", "check", "example",
           "given", "st", "show", "TapeMiss", "Abort", "Failed", "GraderError", "Missing", "Outcome",
           "StudentError", "StudentTimeout"]
