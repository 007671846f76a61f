"""Known-wrong submissions lose points in exactly their own question.

Each file in tests/submissions/mutants/ holds one bug: definitions appended
to the correct submission. Its header names the checks that must fail
(`# expect-fail:`) and, optionally, text the message must show (`# hint:`).
The everyday run grades only the mutant's own question; the slow run grades
everything and compares with the correct submission's report.
"""
import re
from pathlib import Path

import pytest

from conftest import SUBMISSIONS, grade_json, with_override

MUTANTS = sorted((SUBMISSIONS / "mutants").glob("mutant_*.py"))


def header(path: Path):
    text = path.read_text()
    fails = re.search(r"^# expect-fail: (.+)$", text, re.M).group(1).split()
    hint = re.search(r"^# hint: (.+)$", text, re.M)
    return fails, hint.group(1) if hint else None


def own_question(path: Path):
    return re.match(r"mutant_(q\d)_", path.name).group(1)


def check_report(report, path):
    fails, hint = header(path)
    q = own_question(path)
    by_id = {c["id"]: c for c in report["checks"]}
    for cid in fails:
        assert by_id[cid]["status"] == "failed", (cid, by_id[cid])
        msg = by_id[cid]["message"]
        assert "ANSWERS" in msg or ("(" in msg and "=" in msg), f"message does not name the input: {msg}"
    lost = [c for c in report["checks"] if c["status"] != "passed"]
    assert all(c["question"] == q for c in lost), [(c["id"], c["status"]) for c in lost]
    if hint:
        assert any(hint in by_id[cid]["message"] for cid in fails), [by_id[c]["message"] for c in fails]
    assert report["questions"][q]["score"] < report["questions"][q]["max_score"]


@pytest.mark.parametrize("path", MUTANTS, ids=lambda p: p.stem)
def test_mutant_loses_points_in_its_own_question(tmp_path, path):
    report, _ = grade_json(tmp_path, with_override(tmp_path, path), "--all", "-q", own_question(path))
    check_report(report, path)


@pytest.mark.slow
@pytest.mark.parametrize("path", MUTANTS, ids=lambda p: p.stem)
def test_mutant_loses_points_nowhere_else(tmp_path, path):
    report, _ = grade_json(tmp_path, with_override(tmp_path, path), "--all")
    check_report(report, path)


def test_there_are_enough_mutants_per_question():
    per_question = {}
    for p in MUTANTS:
        per_question[own_question(p)] = per_question.get(own_question(p), 0) + 1
    assert len(MUTANTS) >= 12 and per_question.get("q1", 0) >= 4 and per_question.get("q5", 0) >= 4
