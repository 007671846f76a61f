"""The recorded reports (tests/golden/reports.json) cover every fixture, and the comparison can fail.

The comparison itself runs inside every grading test (``conftest.run_grader``
calls ``golden.compare_or_record``); these tests make sure it has something to
compare for the correct submission, the template, every mutant and every
adversarial submission, and that a changed report is caught.
"""
import hashlib
import json

import pytest

import golden
from conftest import ROOT, SUBMISSIONS

ADVERSARIAL = ROOT / "tests" / "adversarial" / "submissions"


def recorded_digests():
    return {key.split(" ")[1] for key in golden._golden()}


def digest(text: bytes):
    return hashlib.sha256(text).hexdigest()[:20]


def test_there_are_recorded_reports():
    assert len(golden._golden()) >= 100


@pytest.mark.parametrize("path", [SUBMISSIONS / "correct.py", SUBMISSIONS / "correct.ipynb",
                                  ROOT / "student_template" / "hw11.ipynb"], ids=lambda p: p.name)
def test_the_correct_submissions_and_the_template_have_a_recorded_report(path):
    assert digest(path.read_bytes()) in recorded_digests()


@pytest.mark.parametrize("path", sorted((SUBMISSIONS / "mutants").glob("mutant_*.py")), ids=lambda p: p.stem)
def test_every_mutant_has_a_recorded_report(path):
    # graded as the correct submission with the mutant's definitions appended (conftest.with_override)
    text = (SUBMISSIONS / "correct.py").read_text() + "\n\n# ---- mutant ----\n" + path.read_text()
    assert digest(text.encode()) in recorded_digests(), f"no recorded report for {path.name}"


def test_speed_dependent_submissions_exist_and_are_not_recorded():
    recorded = {entry["name"] for entry in golden._golden().values()}
    for name in golden.SPEED_DEPENDENT:
        assert (ADVERSARIAL / name).is_file() or (SUBMISSIONS / name).is_file(), name
        assert name not in recorded, name


def test_most_adversarial_submissions_have_a_recorded_report():
    files = sorted(p for p in ADVERSARIAL.glob("*.py") if not p.name.startswith("tamper_"))
    covered = [p for p in files if digest(p.read_bytes()) in recorded_digests()]
    # some attacks are graded only after the test rewrites them (a planted path), or via batch/gradescope
    assert len(covered) >= len(files) // 2, sorted(set(p.name for p in files) - set(p.name for p in covered))


def test_a_changed_report_is_caught(tmp_path, monkeypatch):
    key, entry = next(iter(golden._golden().items()))
    root_mode, digest_, *options = key.split(" ")
    monkeypatch.setattr(golden, "root_mode", lambda: root_mode)
    monkeypatch.setattr(golden, "key", lambda args: " ".join([digest_, *options]))
    report = {"score": entry["report"]["score"],
              "checks": [dict(zip(("id", "status", "score", "message"), c)) for c in entry["report"]["checks"]]}
    out = tmp_path / "r.json"
    out.write_text(json.dumps(report))
    golden.compare_or_record(["x", "--json", out], entry["report"]["exit"])  # the same: passes
    report["checks"][0]["message"] += " (changed)"
    out.write_text(json.dumps(report))
    with pytest.raises(AssertionError, match="changed from the one recorded"):
        golden.compare_or_record(["x", "--json", out], entry["report"]["exit"])


@pytest.mark.parametrize("recorded, now, same", [
    ("final loss 9.353615e-19 at B=128", "final loss 9.353615e-19 at B=128", True),
    ("final loss 0.5660954", "final loss 0.5660955", True),           # the last printed digit
    ("sigma returned: [5.75, 0.7008, 4.244e-16]", "sigma returned: [5.75, 0.7008, 3.318e-17]", True),  # noise
    ("final loss 0.5660954", "final loss 0.5660964", False),          # beyond float64 rounding
    ("final loss 2.1e-12", "final loss 4.0e-12", False),              # small, but not noise
    ("seed=209, 6 of 6 batch sizes", "seed=210, 6 of 6 batch sizes", False),   # integers are exact
    ("W_OV=3x3 array", "W_OV=3x4 array", False),
    ("your best lr=0.0078125", "the best lr=0.0078125", False),       # every word
    ("sigma: [5.75, 0.7008]", "sigma: [5.75, 0.7008, 1e-17]", False),
])
def test_messages_are_compared_up_to_float64_rounding_only(recorded, now, same):
    """Another CPU may print another last digit or another rounding noise of a zero; nothing else
    may differ (and a check's status and score never)."""
    assert golden.same_message(now, recorded) is same
    check = ["q0.x", "failed", 0.0]
    assert golden.same_checks([check + [now]], [check + [recorded]]) is same
    assert not golden.same_checks([["q0.x", "passed", 1.0, now]], [check + [recorded]])
