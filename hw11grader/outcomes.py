"""Why a check did not pass: one exception per cause, one status per exception.

Checks and the boundary raise these; ``runner.run_check`` is the one place
that turns them (and anything else) into a frozen ``CheckResult``.
"""
from __future__ import annotations

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


class Abort(BaseException):
    """Carries an input-independent outcome straight out of a property check.

    A BaseException, so that Hypothesis neither retries nor shrinks it
    (a NotImplementedError or a dead process is the same on every input).
    """

    def __init__(self, outcome: Outcome):
        super().__init__(outcome.message)
        self.outcome = outcome


class GraderError(Exception):
    """The grader or the reference failed (never charged to the student)."""


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
