"""What every report shares: how a status is marked, and student text escaped and capped.

Student text (messages, warnings, the submission's file name) is escaped by
``text.escape``: no control character or escape sequence reaches a terminal
or a consumer of the JSON, and every line of it is indented, so a student's
line never starts a line of a report. Messages and warnings are capped in
length, and warnings in number (``MAX_WARNINGS_SHOWN``).
"""
from __future__ import annotations

from hw11grader.text import MESSAGE_CAP, escape, escape_line

MARK = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "timeout": "TIMEOUT",
        "missing": "MISSING", "skipped": "SKIP", "grader_error": "GRADER ERROR"}
MAX_WARNINGS_SHOWN = 50


def shown_message(text) -> str:
    """A message or warning as every report shows it: escaped and capped."""
    return escape(text, limit=MESSAGE_CAP)


def shown_warnings(warnings) -> list:
    """At most MAX_WARNINGS_SHOWN warnings (then one that counts the rest), each escaped."""
    warnings = list(warnings)
    shown = [shown_message(w) for w in warnings[:MAX_WARNINGS_SHOWN]]
    if len(warnings) > MAX_WARNINGS_SHOWN:
        shown.append(f"... and {len(warnings) - MAX_WARNINGS_SHOWN:,} more warnings")
    return shown


def shown_submission(graded) -> str:
    return escape_line(graded.submission, limit=1000)
