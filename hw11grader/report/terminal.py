"""The terminal report: failures first (input, got, expected, hint), then a table per question.

Student text is escaped and capped (``report.common``); totals come from ``hw11grader.score``.
"""
from __future__ import annotations

from hw11grader.report.common import MARK, shown_message, shown_submission, shown_warnings
from hw11grader.score import by_question, grader_errors, tally

COLOUR = {"passed": "32", "failed": "31", "error": "31", "timeout": "33", "missing": "33",
          "skipped": "2", "grader_error": "35"}


def render_text(graded, colour=False) -> str:
    """The terminal report: failures first, then a table per question."""

    def paint(text, status):
        return f"\033[{COLOUR[status]}m{text}\033[0m" if colour else text

    lines = []
    student = graded.mode == "student"
    submission = shown_submission(graded)
    lines.append(f"HW11 grader - {submission} "
                 f"({'self-check: public checks only' if student else 'all checks'})")
    for w in shown_warnings(graded.warnings):
        lines.append(f"  warning: {_indent(w, 4).lstrip()}")
    unavailable = graded.protections.get("unavailable") if graded.protections else None
    if unavailable and not student:
        lines.append(f"  sandbox: {len(unavailable)} protection(s) unavailable here: " + "; ".join(unavailable))
    lines.append("")
    problems = [r for r in graded.results if r.status not in ("passed", "skipped")]
    if problems:
        lines.append("What to fix (in homework order):")
        for r in problems:
            lines.append(f"  {paint(MARK[r.status], r.status)}  {r.id}  ({_points(r.max_score)})")
            if r.message:
                lines.append(_indent(shown_message(r.message), 6))
        lines.append("")
    lines.append("Scores:")
    totals = by_question(graded.content, graded.results, skipped_apart=True)
    width = max(len(x.title) for x in graded.content.questions)
    for q in graded.content.questions:
        t = totals.get(q.id)
        if t is None:
            continue
        tail = f"   (+{_points(t.hidden)} in hidden checks)" if t.hidden else ""
        lines.append(f"  {q.id.upper():4} {q.title:{width}}  {_pts(t.score):>5} / {_pts(t.max_score):<5} "
                     f"{t.passed}/{t.checks} checks passed{tail}")
    total = tally(graded.results, skipped_apart=True)
    got, out_of, hidden = total.score, total.max_score, total.hidden
    lines.append("")
    if student:
        more = (f" {_points(hidden)} more {'is' if hidden == 1 else 'are'} in hidden checks "
                "that run only at grading time." if hidden else "")
        lines.append(f"Public score: {_pts(got)} / {_pts(out_of)}.{more}")
    else:
        lines.append(f"Score: {_pts(got)} / {_pts(out_of)}.")
    if graded.plots:
        lines.append(f"Plots of your experiments: {', '.join(graded.plots)}")
    missing_written = [k for k, v in graded.written.items() if v == "missing"]
    if missing_written:
        lines.append(f"Written answers missing ({len(missing_written)}): {', '.join(missing_written)}")
    if grader_errors(graded.results):
        lines.append("The grader itself failed on some checks (marked GRADER ERROR): please tell the staff.")
    if problems:
        first = problems[0]
        lines.append(f"Next step: {first.id} - fix it, then run: python grader.py "
                     f"{submission} -q {first.question}")
    return "\n".join(lines) + "\n"


def _pts(x):
    return f"{x:g}"


def _points(x):
    return f"{x:g} pt" if x == 1 else f"{x:g} pts"


def _indent(text, n):
    """Every line indented (the text is escaped: its only line breaks are newlines)."""
    pad = " " * n
    return "\n".join(pad + line for line in str(text).splitlines())
