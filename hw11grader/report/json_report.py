"""The JSON report of cli.md (``--json PATH``; batch records add to it). Totals from ``hw11grader.score``."""
from __future__ import annotations

import json

from hw11grader.report.common import shown_message, shown_submission, shown_warnings
from hw11grader.score import by_question, grader_errors, tally

SCHEMA = 1


def _round(x):
    return round(float(x), 6)


def question_totals(graded):
    return {qid: {"score": _round(t.score), "max_score": _round(t.max_score)}
            for qid, t in by_question(graded.content, graded.results).items()}


def _check_json(r) -> dict:
    out = r.as_json()
    out["message"] = shown_message(out["message"])
    return out


def to_json(graded) -> dict:
    results = graded.results
    total = tally(results)
    return {
        "schema": SCHEMA,
        "submission": shown_submission(graded),
        "mode": graded.mode,
        "score": _round(total.score),
        "max_score": _round(total.max_score),
        "questions": question_totals(graded),
        "checks": [_check_json(r) for r in results],
        "written": graded.written,
        "warnings": shown_warnings(graded.warnings),
        "grader_errors": grader_errors(results),
        "protections": graded.protections,
        "plots": list(graded.plots),
        "duration_s": round(graded.duration_s, 3),
    }


def write_json(graded, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(to_json(graded), f, indent=2)
        f.write("\n")
