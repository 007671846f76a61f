"""Gradescope's results.json (see ../shared/spec/gradescope.md): the report for Gradescope.

``results_json`` for a finished grading; ``error_results`` when the grader
itself failed (valid, visible, details hidden). Totals come from
``hw11grader.score``; student text is escaped and capped.
"""
from __future__ import annotations

import math
import re

from hw11grader.score import by_question, grader_errors, tally
from hw11grader.text import escape, md_inline

MESSAGE_CAP = 20_000  # characters per test output (Gradescope truncates near 100,000)
ERROR_TEXT = ("The autograder itself failed while grading this submission. This is not your fault and "
              "your score is not final: please tell the course staff (they can see what went wrong).")


def _question_number(qid: str, index: int) -> int:
    m = re.match(r"q(\d+)", qid)
    return int(m.group(1)) if m else index + 1


def _short(doc: str, limit=90) -> str:
    first = " ".join(doc.strip().split("\n\n")[0].split())
    first = re.split(r"(?<=[.:;])\s", first, maxsplit=1)[0].rstrip(".:;")
    return first if len(first) <= limit else first[: limit - 3].rstrip() + "..."


def _cap(text: str) -> str:
    """Student text as a test's output: control characters escaped, at most MESSAGE_CAP characters."""
    text = escape(text)
    return text if len(text) <= MESSAGE_CAP else text[:MESSAGE_CAP] + f"\n[... {len(text) - MESSAGE_CAP} more characters]"


def _pts(x) -> str:
    return f"{x:g}"


def results_json(graded, content, note: str, written_text: dict, elapsed: float, picked=True) -> dict:
    """Gradescope's results.json for a finished grading (plain data, JSON-ready)."""
    qnum = {q.id: _question_number(q.id, i) for i, q in enumerate(content.questions)}
    docs = {e.id: e.spec.doc for e in content.entries}
    counts = {}
    for r in graded.results:
        counts[r.question] = counts.get(r.question, 0) + 1
    width = max(2, len(str(max(counts.values(), default=1))))
    seen = {}
    tests = []
    for r in graded.results:
        seen[r.question] = seen.get(r.question, 0) + 1
        short = _short(docs.get(r.id, ""))
        message = r.message if r.status in ("passed", "failed") else f"[{r.status}] {r.message}".rstrip()
        tests.append({
            "name": f"{r.id}: {short}" if short else r.id,
            "number": f"{qnum.get(r.question, 99)}.{seen[r.question]:0{width}d}",
            "score": _num(r.score), "max_score": _num(r.max_score),
            "status": "passed" if r.status == "passed" else "failed",
            "output": _cap(message),
            "visibility": "visible" if r.visibility == "public" else "after_published",
        })
    after = max(qnum.values(), default=0) + 1
    for i, key in enumerate(content.written_keys, start=1):
        text = written_text.get(key)
        tests.append({
            "name": f"{key} (written, graded by hand)", "number": f"{after}.{i:02d}",
            "score": 0.0, "max_score": 0.0, "status": "passed" if text else "failed",
            "output": _cap(text) if text else "missing", "visibility": "visible",
        })
    score = _num(tally(graded.results).score)
    return {
        "score": score,
        "execution_time": round(float(elapsed), 3),
        "output": summary_markdown(graded, content, note, picked),
        "output_format": "md",
        "test_output_format": "text",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _num(x) -> float:
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"a score is not a finite number: {x}")
    return round(x, 6)


def summary_markdown(graded, content, note, picked=True) -> str:
    results = graded.results
    total = tally(results)
    got, out_of = total.score, total.max_score
    lines = [f"## HW11 autograder: {_pts(round(got, 6))} / {_pts(round(out_of, 6))}", ""]
    lines.append(("Submission: " if picked else "**No submission was graded**: ") + md_inline(note) + ".")
    lines += ["", "| Question | Score | Checks passed |", "|---|---:|---:|"]
    totals = by_question(content, results)
    for q in content.questions:
        t = totals.get(q.id)
        if t is not None:
            lines.append(f"| {q.id.upper()} {q.title} | {_pts(round(t.score, 6))} / "
                         f"{_pts(round(t.max_score, 6))} | {t.passed} / {t.checks} |")
    lines.append("")
    hidden = [r for r in results if r.visibility == "hidden"]
    if hidden:
        lines.append(f"{len(hidden)} checks ({_pts(sum(r.max_score for r in hidden))} points) are hidden: they "
                     "count in the score above and their details appear once grades are published.")
    errors = grader_errors(results)
    if errors:
        lines.append(f"**The grader itself failed on {errors} check(s).** This is not your fault: the staff "
                     "will regrade.")
    missing = [k for k, v in graded.written.items() if v == "missing"]
    total = len(graded.written)
    if total:
        lines.append(f"Written answers (graded by hand): {total - len(missing)} of {total} present"
                     + (f"; missing: {', '.join(missing)}." if missing else "."))
    if graded.warnings:
        lines += ["", "Warnings:", "", "```"]
        for w in graded.warnings[:20]:
            w = escape(w).replace("```", "'''")  # escaped; and no run of 3 backticks can close the fence
            lines.append("- " + (w if len(w) <= 2000 else w[:2000] + " ..."))
        if len(graded.warnings) > 20:
            lines.append(f"- ... and {len(graded.warnings) - 20} more")
        lines.append("```")
    unavailable = (graded.protections or {}).get("unavailable") or []
    if unavailable:
        lines += ["", "Protections unavailable on this machine: " + "; ".join(unavailable) + "."]
    return "\n".join(lines).rstrip() + "\n"


def error_results(elapsed: float, out_of_time=False) -> dict:
    """results.json when the grader itself failed: valid, visible, details hidden."""
    why = ("The grading did not finish in time. " if out_of_time else "")
    return {
        "score": 0.0,
        "execution_time": round(float(elapsed), 3),
        "output": f"## HW11 autograder\n\n**Autograder error.** {why}{ERROR_TEXT}\n",
        "output_format": "md",
        "test_output_format": "text",
        "stdout_visibility": "hidden",
        "tests": [{"name": "Autograder error", "number": "0.01", "score": 0.0, "max_score": 0.0,
                   "status": "failed", "output": why + ERROR_TEXT, "visibility": "visible"}],
    }
