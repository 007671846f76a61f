"""Scoring: the one place that adds points up and decides WRITTEN status.

Every report (terminal, JSON, Gradescope, notebook, batch) takes its totals
from here; each only rounds and formats them.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tally:
    """Points of some check results. ``hidden``: points of checks skipped as hidden (not run)."""

    score: float
    max_score: float
    passed: int
    checks: int
    hidden: float = 0.0


def tally(results, *, skipped_apart=False) -> Tally:
    """The sum of ``results``; with ``skipped_apart``, skipped (hidden) checks count only in ``hidden``."""
    results = list(results)
    run = [r for r in results if r.status != "skipped"] if skipped_apart else results
    return Tally(score=sum(r.score for r in run), max_score=sum(r.max_score for r in run),
                 passed=sum(r.status == "passed" for r in run), checks=len(run),
                 hidden=sum(r.max_score for r in results if r.status == "skipped"))


def by_question(content, results, *, skipped_apart=False) -> dict:
    """``{question id: Tally}`` in homework order, for the questions that have results."""
    out = {}
    for q in content.questions:
        rs = [r for r in results if r.question == q.id]
        if rs:
            out[q.id] = tally(rs, skipped_apart=skipped_apart)
    return out


def grader_errors(results) -> int:
    return sum(r.status == "grader_error" for r in results)


def written_answers(content, submission, manifest) -> dict:
    """The text of each answered WRITTEN key: a ``WRITTEN`` dict entry wins over a markdown cell."""
    out = {}
    if submission is not None:
        out.update({k: v for k, v in submission.written_cells.items() if v.strip()})
    if manifest is not None and manifest.written.get("present") and "value" in manifest.written:
        out.update({k: v for k, v in manifest.written["value"].items() if isinstance(v, str) and v.strip()})
    return out


def written_status(content, answers: dict) -> dict:
    """``{key: "present" | "missing"}`` for every WRITTEN key of the homework."""
    return {k: ("present" if k in answers else "missing") for k in content.written_keys}
