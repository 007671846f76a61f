"""Snapshots of the feedback text students read.

A change to what students see becomes a visible diff here. Regenerate with
`UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_snapshots.py` and
read the diff before committing it.
"""
import os
import re

import pytest

from conftest import ROOT, SUBMISSIONS, run_grader

SNAPSHOTS = ROOT / "tests" / "snapshots"
MUTANTS = SUBMISSIONS / "mutants"
ERRORS = SUBMISSIONS / "errors"  # fragments whose checks end as error or timeout, not failed
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
    # an error: the staff's fine_grained_prune crashes when no entry is to be zeroed
    "error_q7_staff_fine_grained_prune": (SUBMISSIONS / "correct.py", ERRORS / "staff_fine_grained_prune.py",
                                          ["--all", "-q", "q7"]),
    # a timeout: a loop that never ends (3 s is far above what any other Q7 call needs)
    "timeout_q7_prune_hangs_when_all_zeroed": (SUBMISSIONS / "correct.py",
                                               ERRORS / "prune_hangs_when_all_zeroed.py",
                                               ["--all", "-q", "q7", "--call-timeout", "3"]),
}
CALL_OUTCOME = re.compile(r"[\w.]+\(.*\) (raised |did not finish within |sent back )")


def feedback_text(tmp_path, base, mutant, args):
    target = tmp_path / "hw11.py"
    text = base.read_text()
    if mutant:
        text += "\n\n# ---- mutant ----\n" + (MUTANTS / mutant).read_text()  # (an ERRORS path is absolute)
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
        if not name.startswith("mutant_"):
            continue
        text = (SNAPSHOTS / f"{name}.txt").read_text()
        assert "FAIL" in text and "Traceback" not in text, name
        assert "Next step:" in text, name


def messages(text, label):
    """The first line of each message under a ``label`` (ERROR, TIMEOUT, ...) heading."""
    lines = text.splitlines()
    return [lines[i + 1].strip() for i, line in enumerate(lines[:-1])
            if line.startswith(f"  {label}  ")]


def test_every_error_and_timeout_shows_the_call_with_its_arguments():
    seen = {"ERROR": 0, "TIMEOUT": 0}
    for name in CASES:
        text = (SNAPSHOTS / f"{name}.txt").read_text()
        for label in seen:
            for first in messages(text, label):
                seen[label] += 1
                assert CALL_OUTCOME.search(first), (name, first)
                assert "(...)" not in first and " at 0x" not in first, (name, first)
    assert seen["ERROR"] >= 3 and seen["TIMEOUT"] >= 1, seen


def test_the_staff_prune_error_names_w_sparsity_and_the_edge_case():
    text = (SNAPSHOTS / "error_q7_staff_fine_grained_prune.txt").read_text()
    errors = messages(text, "ERROR")
    assert len(errors) == 3  # the three pruning checks, and nothing else in Q7
    for first in errors:
        assert re.match(r"magnitude_prune\(<\d+x\d+ float64 tensor \[[^]]*\]>, [0-9.e-]+\) raised RuntimeError: "
                        r"kthvalue\(\)", first), first
    assert text.count("Edge case: no entries to zero (round(sparsity * W.numel()) = round(") == 3
    assert "FAIL" not in text and "25/28 checks passed" in text


def test_the_timeout_names_the_call_and_the_edge_case():
    text = (SNAPSHOTS / "timeout_q7_prune_hangs_when_all_zeroed.txt").read_text()
    first = messages(text, "TIMEOUT")[0]
    assert re.match(r"magnitude_prune\(<\d+x\d+ float64 tensor \[[^]]*\]>, 1\) did not finish within 3 s$", first)
    assert "Edge case: every entry zeroed" in text
    # the function is not called again; later checks say which call hung
    assert all(m.startswith("not run: magnitude_prune is not called again") and first in m
               for m in messages(text, "TIMEOUT")[1:])
