"""``grader.check("q3")`` inside a running notebook.

This is the one place where student code is called in the same process as
grading code: the student's own kernel, on the student's own machine, with
public checks only. Nothing here can change a grade (grades come from the
child-process grader), so running in the kernel is acceptable, and it lets
the self-check see the live definitions. The namespace is passed in
explicitly (``__main__``'s dict); values still make the wire round trip, so
the checks, messages and scores are those of ``python grader.py``.
"""
from __future__ import annotations

import html

from hw11grader.report.common import MARK
from hw11grader.report.json_report import to_json
from hw11grader.report.terminal import render_text
from hw11grader.score import by_question, tally
from hw11grader.boundary import InProcessBoundary
from hw11grader.judge.registry import load_content
from hw11grader.judge.runner import run_all


class SelfCheck:
    """The result of a self-check: shown as HTML in Jupyter, as text elsewhere."""

    def __init__(self, graded):
        self.graded = graded

    @property
    def score(self):
        return tally(self.graded.results, skipped_apart=True).score

    @property
    def max_score(self):
        return tally(self.graded.results, skipped_apart=True).max_score

    def summary(self) -> dict:
        """Plain data: scores per question and per check (what the tests compare)."""
        data = to_json(self.graded)
        return {"score": data["score"], "questions": data["questions"],
                "checks": {c["id"]: c["status"] for c in data["checks"]}}

    def __repr__(self):
        return render_text(self.graded, colour=False)

    def _repr_html_(self):
        rows = []
        totals = by_question(self.graded.content, self.graded.results, skipped_apart=True)
        for q in self.graded.content.questions:
            t = totals.get(q.id)
            if t is None or not t.checks:
                continue
            got, out_of = t.score, t.max_score
            colour = "#2e7d32" if got == out_of else "#c62828"
            rows.append(f"<tr><td><b>{q.id.upper()}</b> {html.escape(q.title)}</td>"
                        f"<td style='color:{colour}'>{got:g} / {out_of:g}</td></tr>")
        problems = []
        for r in self.graded.results:
            if r.status in ("passed", "skipped"):
                continue
            problems.append(f"<li><b>{html.escape(MARK[r.status])}</b> <code>{html.escape(r.id)}</code>"
                            f"<pre style='white-space:pre-wrap'>{html.escape(r.message)}</pre></li>")
        hidden = tally(self.graded.results).hidden
        tail = f" ({hidden:g} more points in hidden checks run at grading time)" if hidden else ""
        body = (f"<div><p><b>HW11 self-check:</b> {self.score:g} / {self.max_score:g} public points{tail}</p>"
                f"<table>{''.join(rows)}</table>")
        if problems:
            body += f"<p>What to fix:</p><ul>{''.join(problems)}</ul>"
        return body + "</div>"


def check_namespace(names: dict, questions=None) -> SelfCheck:
    if isinstance(questions, str):
        questions = [questions]
    content = load_content(questions=questions)
    known = {q.id for q in content.questions}
    for q in questions or []:
        if q not in known:
            raise ValueError(f"unknown question {q!r}; choose from {', '.join(sorted(known))}")
    label = "this notebook" if names.get("__name__") == "__main__" else str(names.get("__name__"))
    graded = run_all(InProcessBoundary(names), label, content, mode="student", questions=questions)
    return SelfCheck(graded)
