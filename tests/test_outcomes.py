"""Outcomes charged to their cause: the engine's signals cannot be swallowed, feedback cannot change a verdict.

A small content package (one question, q9) is graded against a small
submission whose ``hang(n)`` never returns when ``n`` is true.
"""
import sys
import textwrap
from dataclasses import replace

import pytest

CHECKS = '''
from hw11grader.authoring import Failed, check, given, st

@check("q9.feedback.times_out", uses=("hang", "double"))
def feedback_times_out(sub):
    """A feedback-only run that times out: the verdict is that of the rest of the check."""
    sub.feedback(lambda: sub.hang(1))
    if sub.double(2) != 4:
        raise Failed("double(2) is not 4")

@check("q9.later.hang_is_still_called", uses=("hang",))
def later(sub):
    """hang timed out only in feedback: it is not disabled for later checks."""
    if sub.hang(0) != 0:
        raise Failed("hang(0) is not 0")

@check("q9.caught.abort", uses=("hang",))
def caught(sub):
    """Check code that swallows the engine's signal (a timeout) cannot turn it into a pass."""
    try:
        sub.hang(1)
    except BaseException:
        pass

@check("q9.property.wrong_double", uses=("wrong_double",))
@given(x=st.integers(0, 10**6))
def prop(sub, x):
    """A property that fails: shrinking is capped without touching the check object."""
    got = sub.wrong_double(x)
    if got != 2 * x:
        raise Failed(f"wrong_double({x}) = {got}, expected {2 * x}")
'''
POINTS = '''
[questions.q9]
title = "outcomes"
points = 4
[checks]
"q9.feedback.times_out" = { points = 1 }
"q9.later.hang_is_still_called" = { points = 1 }
"q9.caught.abort" = { points = 1 }
"q9.property.wrong_double" = { points = 1 }
'''
SUBMISSION = '''
import time

def hang(n):
    while n:
        time.sleep(0.05)
    return 0

def double(x):
    return 2 * x

def wrong_double(x):
    return 2 * x + (x > 1000)
'''


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from hw11grader import Limits, grade, load_content
    root = tmp_path_factory.mktemp("outcomes")
    pkg = root / "outpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "q9_outcomes.py").write_text(textwrap.dedent(CHECKS))
    (pkg / "points.toml").write_text(POINTS)
    (root / "hw11.py").write_text(SUBMISSION)
    sys.path.insert(0, str(root))
    try:
        content = load_content("outpkg")
        prop = next(e for e in content.entries if e.id == "q9.property.wrong_double").spec.function
        inner = prop.hypothesis.inner_test
        result = grade(root / "hw11.py", content, mode="all",
                       limits=replace(Limits(), call_timeout=2.0, load_timeout=60.0))
        assert prop.hypothesis.inner_test is inner  # the runner does not rewire check objects
        return {r.id: r for r in result.results}
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.startswith("outpkg")]:
            del sys.modules[name]


def test_a_feedback_run_that_times_out_leaves_the_verdict_unchanged(graded):
    r = graded["q9.feedback.times_out"]
    assert (r.status, r.score) == ("passed", 1.0), r.message


def test_a_function_that_timed_out_in_feedback_is_still_called_later(graded):
    r = graded["q9.later.hang_is_still_called"]
    assert r.status == "passed", r.message


def test_check_code_cannot_swallow_the_engines_signal(graded):
    r = graded["q9.caught.abort"]
    assert r.status == "timeout" and r.score == 0.0, (r.status, r.message)
    assert "hang(1)" in r.message


def test_a_failing_property_still_reports_its_input(graded):
    r = graded["q9.property.wrong_double"]
    assert r.status == "failed" and "wrong_double(" in r.message, r.message


def test_causes_are_one_closed_table():
    from hw11grader import outcomes
    statuses = set(outcomes.CAUSES.values()) | {"passed", "skipped"}
    assert statuses == set(outcomes.STATUSES)
    for cause, status in outcomes.CAUSES.items():
        if issubclass(cause, outcomes.Outcome):
            assert cause.status == status
