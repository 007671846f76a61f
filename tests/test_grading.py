"""End to end, through the CLI: scores, report contract, determinism, robustness."""
import json
import shutil

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


def test_leave_runs_exit_handlers_flushes_and_keeps_the_code():
    # grader.py ends a single grading with cli.leave (no interpreter teardown): what the normal
    # exit does that matters must still happen
    import subprocess
    import sys
    program = ("import atexit, sys; sys.path.insert(0, sys.argv[1]); from hw11grader.cli import leave; "
               "atexit.register(lambda: print('handler ran', end='')); print('buffered;', end=''); "
               "sys.stderr.write('err;'); leave(3)")
    proc = subprocess.run([sys.executable, "-c", program, str(ROOT)], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (3, "buffered;handler ran", "err;")
    from hw11grader.cli import fast_exit_applies
    assert fast_exit_applies([]) and fast_exit_applies(["hw11.py", "-q", "q5"])
    assert not fast_exit_applies(["batch", "subs"]) and not fast_exit_applies(["gradescope"])


def test_default_discovery_finds_the_template_and_says_which_file(tmp_path):
    # in a folder of its own: a hw11.ipynb left in the checkout cannot be the one found
    (tmp_path / "student_template").mkdir()
    shutil.copy2(TEMPLATE / "hw11.ipynb", tmp_path / "student_template" / "hw11.ipynb")
    code, stdout, _ = run_grader("-q", "q1", "--feedback", tmp_path / "fb", cwd=tmp_path)
    assert code == 0 and "HW11 grader - student_template/hw11.ipynb" in stdout
    shutil.copy2(TEMPLATE / "hw11.py", tmp_path / "hw11.py")  # the current folder comes first
    code, stdout, _ = run_grader("-q", "q1", "--feedback", tmp_path / "fb", cwd=tmp_path)
    assert code == 0 and "HW11 grader - hw11.py" in stdout


# ---------------------------------------------------------------- messages name the call

def test_a_call_is_shown_with_its_arguments_summarised():
    import numpy as np

    from hw11grader.boundary.child import wire
    from hw11grader.boundary import AsNumpy, describe_call

    W = np.arange(20, dtype=np.float64).reshape(4, 5) / 3 - 1
    assert describe_call("magnitude_prune", (W, 0.02)) == \
        "magnitude_prune(<4x5 float64 tensor [-1, -0.6667, -0.3333, ...]>, 0.02)"
    assert describe_call("f", (AsNumpy(np.ones(2, np.float32)), np.array(2.5), 1 / 3, 7, None, "zero"),
                         {"p": wire.Symbol("p"), "g": wire.Generator(5), "h": wire.Handle(1, "LoRALinear"),
                          "xs": [1, 2, 3, 4, 5], "t": (3,)}) == \
        ("f(<2 float32 array [1, 1]>, <0-d float64 tensor 2.5>, 0.3333333, 7, None, 'zero', p=p, "
         "g=Generator(seed=5), h=<LoRALinear object>, xs=[1, 2, 3, 4, ... (5 in all)], t=(3,))")
    huge = describe_call("f", tuple(np.ones((300, 300)) for _ in range(50)), {"s": "x" * 10_000})
    assert len(huge) <= 400 and huge.startswith("f(<300x300 float64 tensor [1, 1, 1, ...]>, ") and huge.endswith(")")


def test_an_error_shows_the_call_and_not_implemented_only_the_name():
    import numpy as np

    from hw11grader.boundary import InProcessBoundary
    from hw11grader.outcomes import Missing, StudentError

    def prune(W, sparsity):
        return W.view(-1).kthvalue(0)

    def todo(W, sparsity):
        raise NotImplementedError

    b = InProcessBoundary({"magnitude_prune": prune, "todo": todo})
    b.start()
    try:
        with pytest.raises(StudentError) as e:
            b.call("magnitude_prune", (np.ones((2, 3)), 0.1), seed=0)
        assert e.value.message.startswith(
            "magnitude_prune(<2x3 float64 tensor [1, 1, 1, ...]>, 0.1) raised RuntimeError: kthvalue()")
        assert not e.value.fatal  # depends on the input: Hypothesis shrinks it
        with pytest.raises(Missing) as m:
            b.call("todo", (np.ones((2, 3)), 0.1), seed=0)
        assert m.value.message == "todo raises NotImplementedError (not implemented yet)"
    finally:
        b.close()


def test_edge_case_names_the_edge_under_the_call_for_errors_and_timeouts_only():
    from checks._common import edge_case
    from hw11grader.outcomes import Abort, Failed, StudentError, StudentTimeout

    with pytest.raises(StudentError) as e:
        with edge_case("no entries to zero"):
            raise StudentError("f(1) raised KeyError: 3\n  hw11.py, line 2, in f")
    assert e.value.message == "f(1) raised KeyError: 3\n    Edge case: no entries to zero\n  hw11.py, line 2, in f"
    with pytest.raises(Abort) as a:
        with edge_case("every entry zeroed"):
            raise Abort(StudentTimeout("f(1) did not finish within 3 s", fatal=True))
    assert isinstance(a.value.outcome, StudentTimeout) and a.value.outcome.fatal
    assert a.value.outcome.message == "f(1) did not finish within 3 s\n    Edge case: every entry zeroed"
    for unchanged, edge in ((Failed("f(1): got 2, expected 3"), "no entries to zero"),
                            (StudentError("f(1) raised KeyError: 3"), None)):
        with pytest.raises(type(unchanged)) as u:
            with edge_case(edge):
                raise unchanged
        assert u.value is unchanged


# ---------------------------------------------------------------- feedback plots

def test_plots_are_painted_by_a_helper_that_a_child_teardown_spares(tmp_path):
    """The painter process draws the plots while grading goes on; tearing a submission's child
    down (which kills every process re-parented to the grader) leaves it alone; a plot it could
    not draw is neither written nor listed."""
    import types

    from checks import _plots
    from hw11grader.boundary import sandbox
    from hw11grader.judge.checking import Session

    session = Session(feedback_dir=tmp_path)

    def feedback_file(name):
        session.plots.append(str(tmp_path / name))
        return tmp_path / name

    sub = types.SimpleNamespace(session=session, feedback_file=feedback_file)
    good = _plots.q1_experiments(sub, "good.png", {"zero": {"loss_curve": [1.0, 0.5, 0.25]}}, None, [])
    bad = _plots.q4_sweep(sub, "bad.png", "a title", {}, {}, {}, {})   # the painter's draw raises
    sandbox.kill_orphans()                                              # a child's teardown
    session.finish()
    assert good.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not bad.exists()
    assert session.plots == [str(good)]


def test_the_painter_starts_with_the_grading_and_an_unused_one_is_stopped(tmp_path):
    """The check modules that plot start the painter as a grading begins, while the submission
    loads (so matplotlib loads meanwhile); when no plot was asked for, the grading's end stops it instead of waiting."""
    from checks import _plots
    from hw11grader.judge.checking import Session
    from hw11grader.judge.registry import load_content

    starters = load_content(questions=["q4", "q5"]).starters
    assert starters == (_plots.start_painter,)            # q4 plots, q5 does not
    assert load_content(questions=["q5"]).starters == ()
    assert _plots.start_painter(Session(feedback_dir=None)) is None    # no feedback folder: no painter
    session = Session(feedback_dir=tmp_path)
    painter = _plots.start_painter(session)
    assert painter.proc.poll() is None and _plots.start_painter(session) is painter
    session.finish()
    assert painter.proc.returncode == -9                  # stopped, not waited for
    assert list(tmp_path.iterdir()) == []


def test_q7_sensitivity_warm_up_trains_the_classifier_the_experiment_then_reuses():
    """The grader-owned classifier that Q7(a)'s experiment prunes is trained while the submission
    loads: the experiment's own call then finds it trained (once per process) and equal."""
    import checks.q7_sensitivity as q7s
    from experiments import q7_sensitivity as exp
    from hw11grader.judge import registry

    assert q7s.warm_up in registry.load_content(questions=["q7"]).warm_ups
    exp._trained_state.cache_clear()
    q7s.warm_up()
    assert exp._trained_state.cache_info().currsize == 1
    hits = exp._trained_state.cache_info().hits
    a, b = exp.train_model(), exp.train_model()
    assert exp._trained_state.cache_info().hits == hits + 2      # trained once, by the warm-up
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() and a[k] is not b[k] for k in a)


def test_warm_ups_and_the_painter_start_while_the_submission_loads_and_decide_nothing():
    """Loading the submission (torch, its cells) leaves the grader's core idle for a second: the
    painter starts and the checks' reference work (``warm_up``: sympy derivations) is done then,
    before the grading waits for the load - and only while it waits: once the submission is loaded
    the rest is left to the checks that need it. A warm-up that raises changes nothing; none runs
    while the student kit's tape is recorded (only the checks' own calls go on it), nor with no
    child to wait for (the notebook self-check)."""
    import gc

    import checks.q5_chinchilla as q5
    from hw11grader.boundary import Manifest
    from hw11grader.judge import registry, runner, tape

    assert q5.warm_up in registry.load_content(questions=["q5"]).warm_ups
    assert registry.load_content(questions=["q4"]).warm_ups == ()   # q4's checks derive nothing

    order, frozen = [], []

    class Boundary:
        def __init__(self, loads_after):
            self.polls = loads_after      # loaded() says True after this many polls

        def begin(self):
            order.append("begun")

        def loaded(self):
            self.polls -= 1
            return self.polls < 0

        def start(self):
            order.append("loaded")
            frozen.append(gc.get_freeze_count() > 0)
            return Manifest("ok")

        def output(self):
            return ""

        def close(self):
            pass

    class InProcess(Boundary):
        begin = loaded = None

    def broken():
        order.append("broken")
        raise RuntimeError("a grader bug: reported by the check that needs it, not here")

    content = registry.Content((), (), (), starters=(lambda session: order.append("painter"),),
                               warm_ups=(lambda: order.append("derived"), broken, lambda: order.append("more")))
    graded = runner.run_all(Boundary(loads_after=5), "x", content)
    assert order == ["begun", "painter", "derived", "broken", "more", "loaded"] and graded.results == []
    # the grader's heap is left out of the collector's passes while the checks run, and only then
    assert frozen == [True] and gc.get_freeze_count() == 0
    order.clear()
    runner.run_all(Boundary(loads_after=2), "x", content)     # loaded before the third
    assert order == ["begun", "painter", "derived", "broken", "loaded"]
    order.clear()
    runner.run_all(InProcess(0), "x", content)
    assert order == ["painter", "loaded"] and frozen[-1] is False   # (the student's own kernel)
    order.clear()
    tape.RECORDER = object()
    try:
        runner.run_all(Boundary(loads_after=5), "x", content)
    finally:
        tape.RECORDER = None
    assert order == ["begun", "painter", "loaded"]
