"""Submissions that implement nothing honestly and each try one cheat.

Each must score 0, leave no side effect, and let the grader exit 0 with a
valid report within its limits. Cheats that can only be stopped by the
sandbox's privilege drop or namespaces need root; they skip otherwise (CI
runs as root, so there they run).
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, run_grader

HERE = Path(__file__).parent / "submissions"
# Limits no machine reaches however slow or busy it is, so that the status a test asserts is
# the cheat's own (a dead child is an error, never a timeout because the machine was loaded);
# they cost nothing, as these cheats never hang.
LIMITS = ["--call-timeout", "120", "--load-timeout", "300", "--time-limit", "900", "--memory-mb", "1536"]
# For cheats that hang on purpose (loops that never end): short limits, which they reach on any machine.
HANGS = ["--call-timeout", "3", "--load-timeout", "8", "--time-limit", "90"]
# Only a hung grader reaches these (the test fails then); no test asserts how long a grading takes.
GUARD_S = 1200
pytestmark = pytest.mark.timeout(GUARD_S + 300)


def full_sandbox():
    from hw11grader.boundary import sandbox
    return not sandbox.plan(sandbox.SandboxConfig(), sys.executable).unavailable


needs_root = pytest.mark.skipif(
    not (hasattr(os, "geteuid") and os.geteuid() == 0 and full_sandbox()),
    reason="needs root and the full sandbox ('make sandbox' as root): the cheat is only stopped by "
           "the unprivileged child user and the PID namespace")


def repo_state():
    """Results-like files anywhere in the grader's folder (what a cheat would plant)."""
    return sorted(str(p) for pattern in ("results.json", "report.json", "*pwned*")
                  for p in ROOT.rglob(pattern) if ".venv" not in p.parts)


def marked_processes(mark):
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if mark.encode() in f.read():
                        found.append(int(name))
            except OSError:
                pass
    return found


def grade_cheat(tmp_path, name, *extra):
    """Grade a cheat with LIMITS (``extra`` flags override them)."""
    before = repo_state()
    autograder_existed = Path("/autograder").exists()
    out = tmp_path / "report.json"
    code, stdout, stderr = run_grader(HERE / name, "--all", "--json", out, *LIMITS, *extra, timeout=GUARD_S)
    assert code == 0, f"exit {code}\n{stdout[-2000:]}\n{stderr[-2000:]}"
    report = json.loads(out.read_text())
    assert report["schema"] == 1
    assert abs(report["score"] - sum(c["score"] for c in report["checks"])) < 1e-9
    assert report["score"] == 0, [c["id"] for c in report["checks"] if c["score"]]
    from hw11grader import load_content
    assert report["max_score"] == sum(e.points for e in load_content().entries)
    assert repo_state() == before, "the submission changed the grader's folder"
    if not autograder_existed:
        assert not Path("/autograder").exists()
    assert not Path("/tmp/hw11-pwned").exists()
    assert not list(Path(tmp_path).glob("results.json"))
    return report, stdout


def statuses(report):
    return {c["status"] for c in report["checks"]}


def test_fake_results_files_are_never_read(tmp_path):
    report, _ = grade_cheat(tmp_path, "fake_results_files.py")
    assert statuses(report) == {"missing"}


def test_monkeypatched_comparisons_stay_in_the_child(tmp_path):
    report, _ = grade_cheat(tmp_path, "monkeypatch_comparisons.py")
    by_id = {c["id"]: c for c in report["checks"]}
    # patching builtins.isinstance breaks the child itself: an error, never a pass
    assert by_id["q1.lora_grads.matches_reference"]["status"] in ("failed", "error")


def test_always_equal_objects_cannot_cross(tmp_path):
    report, _ = grade_cheat(tmp_path, "always_equal_objects.py")
    by_id = {c["id"]: c for c in report["checks"]}
    assert "Anything" in by_id["q5.param_bytes.matches_reference"]["message"]


def test_lying_float_and_int_subclasses_cannot_cross(tmp_path):
    report, _ = grade_cheat(tmp_path, "lying_float_subclass.py")
    by_id = {c["id"]: c for c in report["checks"]}
    assert "LyingFloat" in by_id["q1.lora_bytes.numeric"]["message"]


def test_lying_array_subclasses_cannot_cross(tmp_path):
    report, _ = grade_cheat(tmp_path, "lying_ndarray_subclass.py")
    by_id = {c["id"]: c for c in report["checks"]}
    assert by_id["q1.lora_grads.matches_reference"]["status"] == "failed"


def test_reference_is_not_importable_by_module_name(tmp_path):
    report, _ = grade_cheat(tmp_path, "import_reference.py")
    assert statuses(report) <= {"missing"}


@needs_root
def test_reference_cannot_be_read_from_the_file_system(tmp_path):
    grade_cheat(tmp_path, "walk_up_for_reference.py", "--load-timeout", "30")


def test_sys_exit_at_import(tmp_path):
    report, stdout = grade_cheat(tmp_path, "sys_exit_at_import.py")
    assert "sys.exit" in stdout


def test_os_exit_in_a_function(tmp_path):
    report, _ = grade_cheat(tmp_path, "os_exit_in_function.py")
    by_id = {c["id"]: c for c in report["checks"]}
    assert by_id["q1.lora_grads.matches_reference"]["status"] == "error"


def test_infinite_loop_at_import_times_out(tmp_path):
    report, _ = grade_cheat(tmp_path, "infinite_loop_at_import.py", *HANGS, "--load-timeout", "4")
    assert statuses(report) == {"timeout"}


def test_ignoring_sigterm_does_not_help(tmp_path):
    report, _ = grade_cheat(tmp_path, "ignores_sigterm.py", *HANGS)
    by_id = {c["id"]: c for c in report["checks"]}
    assert by_id["q1.lora_grads.matches_reference"]["status"] == "timeout"


def test_memory_hog_is_contained(tmp_path):
    # How long writing its memory takes depends on the machine (tests/golden.py, SPEED_DEPENDENT):
    # the load either ends (MemoryError, caught by the submission) or times out, and either way
    # every check is charged to the submission, none to the grader.
    report, _ = grade_cheat(tmp_path, "memory_hog.py", *HANGS)
    assert report["grader_errors"] == 0
    checks = report["checks"]
    load_timeout = "loading the submission took longer than 8 s"
    if any(c["message"] == load_timeout for c in checks):
        assert all(c["status"] == "timeout" and c["message"] == load_timeout for c in checks)
        return
    by_id = {c["id"]: c for c in checks}
    grads = by_id["q1.lora_grads.matches_reference"]
    assert grads["status"] in ("error", "timeout"), grads
    for c in checks:
        if c["status"] == "error":      # a check that called lora_grads: its own MemoryError (or death)
            assert "lora_grads(" in c["message"], c
            assert c["message"].endswith("MemoryError") or "process died during lora_grads" in c["message"], c
        elif c["status"] == "timeout":  # a lora_grads call still writing at its 3 s limit
            assert "lora_grads" in c["message"], c
        else:                           # every other name is undefined: the submission defines only lora_grads
            assert c["status"] == "missing" and "is not defined" in c["message"], c


def test_processes_and_setsid_daemon_do_not_survive(tmp_path):
    mark = "hw11-adversarial-daemon"
    grade_cheat(tmp_path, "spawns_processes_and_daemon.py")
    time.sleep(0.5)
    assert marked_processes(mark) == []


def test_huge_output_is_capped(tmp_path):
    report, stdout = grade_cheat(tmp_path, "huge_output.py")
    assert len(stdout) < 100_000


@needs_root
def test_killing_the_parent_or_its_group_fails(tmp_path):
    grade_cheat(tmp_path, "kills_parent.py")


def test_forged_protocol_and_report_text_is_ignored(tmp_path):
    report, stdout = grade_cheat(tmp_path, "forged_protocol.py")
    assert "FORGED" not in stdout and "100 / 100" not in stdout


def test_symbolic_injection_and_dos_are_rejected_unevaluated(tmp_path):
    report, _ = grade_cheat(tmp_path, "symbolic_injection.py")
    by_id = {c["id"]: c for c in report["checks"]}
    for cid in ("q1.answers.q1d_ratio", "q5.answers.q5b_N_opt", "q5.answers.q5b_D_opt"):
        assert by_id[cid]["status"] == "failed" and "not evaluated" in by_id[cid]["message"], by_id[cid]


def test_notebook_that_is_not_json(tmp_path):
    report, _ = grade_cheat(tmp_path, "not_json.ipynb")
    assert statuses(report) == {"error"}
    assert "not a valid notebook" in report["checks"][0]["message"]


def test_syntax_error_is_reported_not_crashed(tmp_path):
    report, stdout = grade_cheat(tmp_path, "syntax_error.py")
    assert "SyntaxError" in stdout and statuses(report) == {"missing"}


def test_first_cell_raising_keeps_later_cells(tmp_path):
    report, stdout = grade_cheat(tmp_path, "first_cell_raises.ipynb")
    assert "first cell raises" in stdout
    by_id = {c["id"]: c for c in report["checks"]}
    assert by_id["q1.lora_bytes.numeric"]["status"] == "failed"  # defined by the second cell, wrong


def test_there_are_at_least_16_cheats():
    assert len(list(HERE.iterdir())) >= 16


@pytest.mark.slow
def test_patching_the_experiment_code_changes_nothing(tmp_path):
    """A wrong sgd_update with and without patches of the experiment code: the same checks, the same scores.

    The patches (planted ``experiments`` modules; torch's autograd, SVD,
    cross-entropy and Adam replaced in the submission's process) each changed
    what the grader measured when the experiments ran beside the submission,
    and none is used by the submission's own functions. Nothing a submission
    does to its own process may change an experiment except through the
    values its functions return: every check of Q1, Q4 and Q7 (experiments
    and the LoRALinear probe included) ends as for the twin.
    """
    from conftest import SUBMISSIONS, with_override
    mutant = SUBMISSIONS / "mutants" / "mutant_q4_sgd_plus.py"
    twin_dir, patcher_dir = tmp_path / "twin", tmp_path / "patcher"
    twin_dir.mkdir()
    patcher_dir.mkdir()
    twin = with_override(twin_dir, mutant)
    patcher = with_override(patcher_dir, mutant)
    patcher.write_text(patcher.read_text() + "\n\n# ---- patches ----\n" + (HERE / "patches_experiments.py").read_text())
    reports = {}
    for name, path in (("twin", twin), ("patcher", patcher)):
        out = tmp_path / f"{name}.json"
        code, stdout, stderr = run_grader(path, "--all", "-q", "q1", "q4", "q7", "--json", out, *LIMITS,
                                          timeout=GUARD_S)
        assert code == 0, f"{name}: exit {code}\n{stdout[-2000:]}\n{stderr[-2000:]}"
        reports[name] = {c["id"]: (c["status"], c["score"]) for c in json.loads(out.read_text())["checks"]}
    twin_r, patcher_r = reports["twin"], reports["patcher"]
    assert all(status != "grader_error" for status, _ in patcher_r.values())
    assert any(status != "passed" for status, _ in twin_r.values()), "the twin loses points"
    assert patcher_r == twin_r
