"""End to end, through the CLI: scores, report contract, determinism, robustness."""
import json

import pytest

from conftest import ROOT, SUBMISSIONS, grade_json, run_grader

TEMPLATE = ROOT / "student_template"
GRADED_QUESTIONS = ["q1", "q3", "q5", "q6", "q7"]


def assert_report_consistent(report, content):
    assert report["schema"] == 1
    checks = report["checks"]
    assert abs(report["score"] - sum(c["score"] for c in checks)) < 1e-9
    assert abs(report["max_score"] - sum(c["max_score"] for c in checks)) < 1e-9
    for q, totals in report["questions"].items():
        mine = [c for c in checks if c["question"] == q]
        assert abs(totals["score"] - sum(c["score"] for c in mine)) < 1e-9
        assert abs(totals["max_score"] - sum(c["max_score"] for c in mine)) < 1e-9
    for c in checks:
        assert c["status"] in {"passed", "failed", "error", "timeout", "missing", "skipped", "grader_error"}
        assert c["visibility"] in {"public", "hidden"}
        assert c["score"] in (0.0, c["max_score"])
    assert set(report["written"]) == set(content.written_keys)


def questions_with_checks(content):
    return [q.id for q in content.questions if any(e.question == q.id for e in content.entries)]


@pytest.mark.parametrize("name", ["correct.py", "correct.ipynb"])
def test_correct_submission_scores_full_marks(tmp_path, content, name):
    report, _ = grade_json(tmp_path, SUBMISSIONS / name, "--all")
    assert_report_consistent(report, content)
    wrong = [(c["id"], c["status"], c["message"]) for c in report["checks"] if c["status"] != "passed"]
    assert wrong == []
    assert report["score"] == report["max_score"] == sum(e.points for e in content.entries)
    assert all(v == "present" for v in report["written"].values())


@pytest.mark.parametrize("name", ["hw11.py", "hw11.ipynb"])
def test_blank_template_scores_zero_without_crashing(tmp_path, content, name):
    report, stdout = grade_json(tmp_path, TEMPLATE / name, "--all")
    assert_report_consistent(report, content)
    assert report["score"] == 0
    statuses = {c["status"] for c in report["checks"]}
    assert statuses == {"missing"}, [(c["id"], c["status"], c["message"]) for c in report["checks"]
                                     if c["status"] != "missing"]
    for c in report["checks"]:
        assert "not implemented" in c["message"] or "not answered" in c["message"] or "not defined" in c["message"]
    assert "Traceback" not in stdout


def test_student_mode_runs_public_checks_and_counts_hidden_points(tmp_path, content):
    report, stdout = grade_json(tmp_path, SUBMISSIONS / "correct.py")
    hidden = [c for c in report["checks"] if c["visibility"] == "hidden"]
    assert hidden and all(c["status"] == "skipped" and c["score"] == 0 for c in hidden)
    assert report["mode"] == "student"
    hidden_points = sum(c["max_score"] for c in hidden)
    assert f"{hidden_points:g} pts more are in hidden checks" in stdout


def test_two_gradings_give_identical_reports(tmp_path):
    first, _ = grade_json(tmp_path, SUBMISSIONS / "correct.ipynb", "--all", "-q", "q1", "q5", name="a.json")
    second, _ = grade_json(tmp_path, SUBMISSIONS / "correct.ipynb", "--all", "-q", "q1", "q5", name="b.json")
    first.pop("duration_s"), second.pop("duration_s")
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_mutant_reports_are_identical_on_regrade(tmp_path):
    from conftest import with_override
    sub = with_override(tmp_path, SUBMISSIONS / "mutants" / "mutant_q5_swapped_exponents.py")
    first, _ = grade_json(tmp_path, sub, "--all", "-q", "q5", name="a.json")
    second, _ = grade_json(tmp_path, sub, "--all", "-q", "q5", name="b.json")
    first.pop("duration_s"), second.pop("duration_s")
    assert first == second
    first.pop("submission")  # the path as given (here a temporary folder)
    text = json.dumps(first)
    assert " at 0x" not in text and "/tmp/" not in text and "pytest-of" not in text


def test_usage_errors_exit_2(tmp_path):
    assert run_grader(SUBMISSIONS / "correct.py", "-q", "q2")[0] == 2
    assert run_grader(tmp_path / "absent.py")[0] == 2
    assert run_grader("--bogus")[0] == 2


def test_default_discovery_finds_the_template_and_says_which_file(tmp_path):
    code, stdout, _ = run_grader("-q", "q1")
    assert code == 0 and "student_template/hw11.ipynb" in stdout
