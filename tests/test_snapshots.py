"""Snapshots of the feedback text students read.

A change to what students see becomes a visible diff here. Regenerate with
`UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_snapshots.py` and
read the diff before committing it.
"""
import os

import pytest

from conftest import ROOT, SUBMISSIONS, run_grader

SNAPSHOTS = ROOT / "tests" / "snapshots"
MUTANTS = SUBMISSIONS / "mutants"
CASES = {
    "blank_template_q1": (ROOT / "student_template" / "hw11.py", None, ["-q", "q1"]),
    "correct_q5_all": (SUBMISSIONS / "correct.py", None, ["--all", "-q", "q5"]),
    "mutant_q1_both_zero_init": (SUBMISSIONS / "correct.py", "mutant_q1_both_zero_init.py", ["-q", "q1"]),
    "mutant_q1_grads_transposes_swapped": (SUBMISSIONS / "correct.py", "mutant_q1_grads_transposes_swapped.py", ["-q", "q1"]),
    "mutant_q3_qk_transposed": (SUBMISSIONS / "correct.py", "mutant_q3_qk_transposed.py", ["-q", "q3"]),
    "mutant_q3_mix_untransposed": (SUBMISSIONS / "correct.py", "mutant_q3_mix_untransposed.py", ["-q", "q3"]),
    "mutant_q5_swapped_exponents": (SUBMISSIONS / "correct.py", "mutant_q5_swapped_exponents.py", ["-q", "q5"]),
    "mutant_q5_gpus_not_rounded": (SUBMISSIONS / "correct.py", "mutant_q5_gpus_not_rounded.py", ["-q", "q5"]),
    "mutant_q6_no_causal_mask": (SUBMISSIONS / "correct.py", "mutant_q6_no_causal_mask.py", ["-q", "q6"]),
    "mutant_q6_no_scaling": (SUBMISSIONS / "correct.py", "mutant_q6_no_scaling.py", ["-q", "q6"]),
    "mutant_q7_prune_largest": (SUBMISSIONS / "correct.py", "mutant_q7_prune_largest.py", ["-q", "q7"]),
    "mutant_q7_z_sign": (SUBMISSIONS / "correct.py", "mutant_q7_z_sign.py", ["-q", "q7"]),
}


def feedback_text(tmp_path, base, mutant, args):
    target = tmp_path / "hw11.py"
    text = base.read_text()
    if mutant:
        text += "\n\n# ---- mutant ----\n" + (MUTANTS / mutant).read_text()
    target.write_text(text)
    code, stdout, stderr = run_grader("hw11.py", *args, "--no-color", "--feedback", "fb", cwd=tmp_path)
    assert code == 0, stderr
    return stdout


@pytest.mark.parametrize("name", sorted(CASES))
def test_feedback_text_matches_snapshot(tmp_path, name):
    base, mutant, args = CASES[name]
    got = feedback_text(tmp_path, base, mutant, args)
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        path.write_text(got)
        if os.environ.get("UPDATE_SNAPSHOTS") != "1":
            pytest.fail(f"new snapshot written: {path.name}; read it and commit it")
    assert got == path.read_text(), f"feedback for {name} changed; if intended: UPDATE_SNAPSHOTS=1"


def test_every_failure_names_its_input_and_mutants_show_their_hint(tmp_path):
    for name, (base, mutant, args) in CASES.items():
        if not mutant:
            continue
        text = (SNAPSHOTS / f"{name}.txt").read_text()
        assert "FAIL" in text and "Traceback" not in text, name
        assert "Next step:" in text, name
