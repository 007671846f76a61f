"""Why a check did not pass: the closed set of causes, one exception per cause, one status each.

| cause | exception | status | whose fault |
|---|---|---|---|
| a wrong value came back | ``Failed`` | failed | the student's |
| a name is absent, NotImplementedError, an unanswered key | ``Missing`` | missing | the student's |
| the submission raised, exited, its process died, sent back garbage | ``StudentError`` | error | the student's |
| the submission took longer than its limit | ``StudentTimeout`` | timeout | the student's |
| the grader's code, its data, the child's start-up (before any student code ran) | ``GraderError`` | grader_error | the grader's |
| anything else raised by check code | (any exception) | grader_error | the grader's |

``CAUSES`` is that table as data. Checks and the boundary raise these;
``judge.runner.run_check`` is the one place that turns them (and anything
else) into a frozen ``CheckResult``.

``Abort`` is the engine's control-flow signal (an input-independent outcome
carried straight out of a property check). It cannot be swallowed: every
``Abort`` created while a check runs is also recorded on that check's run
(``CheckRun``), and the runner reports it even if check code caught it.
Inside ``sub.feedback(...)`` (plots and notes) nothing is recorded and
everything is swallowed, so feedback never changes a verdict.
"""
from __future__ import annotations

import contextvars
from dataclasses import dataclass

STATUSES = ("passed", "failed", "error", "timeout", "missing", "skipped", "grader_error")


class Outcome(Exception):
    """Base: an outcome of a check other than passing."""

    status = "failed"

    def __init__(self, message: str, fatal: bool = False):
        super().__init__(message)
        self.message = message
        self.fatal = fatal  # the same whatever the input: no point shrinking


class Failed(Outcome):
    """The submission returned a wrong value."""

    status = "failed"


class Missing(Outcome):
    """A name is absent, raises NotImplementedError, or an answer is unanswered."""

    status = "missing"


class StudentError(Outcome):
    """The submission raised, exited, or its process died."""

    status = "error"


class StudentTimeout(Outcome):
    """The submission took longer than the limit."""

    status = "timeout"


class GraderError(Exception):
    """The grader or the reference failed (never charged to the student)."""


CAUSES = {Failed: "failed", Missing: "missing", StudentError: "error", StudentTimeout: "timeout",
          GraderError: "grader_error"}


@dataclass
class CheckRun:
    """The engine's state of the check being run (a context variable, never a module global)."""

    aborted: Outcome | None = None  # the last Abort created outside feedback
    feedback_depth: int = 0
    shrink_last: Outcome | None = None  # Hypothesis: the first failure's outcome, then the latest
    shrink_after: int = 0  # examples tried since the first failure


CURRENT_RUN: contextvars.ContextVar = contextvars.ContextVar("hw11_check_run", default=None)


class Abort(BaseException):
    """Carries an input-independent outcome straight out of a property check.

    A BaseException, so that Hypothesis neither retries nor shrinks it
    (a NotImplementedError or a dead process is the same on every input).
    Recorded on the current ``CheckRun`` when created, so that check code
    that catches it cannot change the verdict.
    """

    def __init__(self, outcome: Outcome):
        super().__init__(outcome.message)
        self.outcome = outcome
        run = CURRENT_RUN.get()
        if run is not None and not run.feedback_depth:
            run.aborted = outcome


@dataclass(frozen=True)
class CheckResult:
    id: str
    question: str
    status: str
    score: float
    max_score: float
    visibility: str
    message: str

    def as_json(self) -> dict:
        return {
            "id": self.id, "question": self.question, "score": self.score,
            "max_score": self.max_score, "status": self.status,
            "visibility": self.visibility, "message": self.message,
        }
