"""Reports: the JSON report of cli.md and the terminal report.

Student text (messages, warnings, the submission's file name) is escaped by
``text.escape`` in both: no control character or escape sequence reaches a
terminal or a consumer of the JSON, and every line of it is indented, so a
student's line never starts a line of the report. Messages and warnings are
capped in length, and warnings in number (``MAX_WARNINGS_SHOWN``).
"""
from __future__ import annotations

import json

from hw11grader.text import MESSAGE_CAP, escape, escape_line

SCHEMA = 1
MARK = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "timeout": "TIMEOUT",
        "missing": "MISSING", "skipped": "SKIP", "grader_error": "GRADER ERROR"}
COLOUR = {"passed": "32", "failed": "31", "error": "31", "timeout": "33", "missing": "33",
          "skipped": "2", "grader_error": "35"}
MAX_WARNINGS_SHOWN = 50


def _round(x):
    return round(float(x), 6)


def question_totals(graded):
    totals = {}
    for q in graded.content.questions:
        rs = [r for r in graded.results if r.question == q.id]
        if rs:
            totals[q.id] = {"score": _round(sum(r.score for r in rs)),
                            "max_score": _round(sum(r.max_score for r in rs))}
    return totals


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


def _check_json(r) -> dict:
    out = r.as_json()
    out["message"] = shown_message(out["message"])
    return out


def to_json(graded) -> dict:
    results = graded.results
    return {
        "schema": SCHEMA,
        "submission": shown_submission(graded),
        "mode": graded.mode,
        "score": _round(sum(r.score for r in results)),
        "max_score": _round(sum(r.max_score for r in results)),
        "questions": question_totals(graded),
        "checks": [_check_json(r) for r in results],
        "written": graded.written,
        "warnings": shown_warnings(graded.warnings),
        "grader_errors": sum(r.status == "grader_error" for r in results),
        "protections": graded.protections,
        "plots": list(graded.plots),
        "duration_s": round(graded.duration_s, 3),
    }


def write_json(graded, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(to_json(graded), f, indent=2)
        f.write("\n")


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
    for q in graded.content.questions:
        rs = [r for r in graded.results if r.question == q.id]
        if not rs:
            continue
        run = [r for r in rs if r.status != "skipped"]
        got = sum(r.score for r in run)
        out_of = sum(r.max_score for r in run)
        hidden = sum(r.max_score for r in rs if r.status == "skipped")
        npass = sum(r.status == "passed" for r in run)
        tail = f"   (+{_points(hidden)} in hidden checks)" if hidden else ""
        width = max(len(x.title) for x in graded.content.questions)
        lines.append(f"  {q.id.upper():4} {q.title:{width}}  {_pts(got):>5} / {_pts(out_of):<5} "
                     f"{npass}/{len(run)} checks passed{tail}")
    run = [r for r in graded.results if r.status != "skipped"]
    got = sum(r.score for r in run)
    out_of = sum(r.max_score for r in run)
    hidden = sum(r.max_score for r in graded.results if r.status == "skipped")
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
    if any(r.status == "grader_error" for r in graded.results):
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
