"""A submission that hangs, exits or raises is graded; only the affected checks fail."""
import pytest

from conftest import SUBMISSIONS, grade_json, with_override

HANGS = """
def lora_bytes(m, l, k, bytes_per_param=4):
    while True:
        pass
"""
EXITS_IN_FUNCTION = """
import os as _os
def full_update_bytes(m, l, bytes_per_param=4):
    _os._exit(0)
"""
SYS_EXIT_AT_IMPORT = """
import sys as _sys
_sys.exit(0)
"""
RAISES_AT_IMPORT_MIDWAY = "raise RuntimeError('broken cell')\n"


def statuses(report):
    return {c["id"]: c["status"] for c in report["checks"]}


def test_infinite_loop_costs_only_its_checks(tmp_path):
    sub = with_override(tmp_path, _write(tmp_path, HANGS))
    report, _ = grade_json(tmp_path, sub, "--all", "-q", "q1")
    s = statuses(report)
    assert s["q1.lora_bytes.numeric"] == "timeout"
    assert s["q1.lora_bytes.symbolic"] == "timeout"
    others = {k: v for k, v in s.items() if not k.startswith("q1.lora_bytes")}
    assert set(others.values()) == {"passed"}, others


def test_os_exit_in_a_function_costs_only_its_checks(tmp_path):
    sub = with_override(tmp_path, _write(tmp_path, EXITS_IN_FUNCTION))
    report, _ = grade_json(tmp_path, sub, "--all", "-q", "q1")
    s = statuses(report)
    assert s["q1.full_update_bytes.numeric"] == "error"
    msg = next(c["message"] for c in report["checks"] if c["id"] == "q1.full_update_bytes.numeric")
    assert "exited with code 0" in msg
    others = {k: v for k, v in s.items() if not k.startswith("q1.full_update_bytes")}
    assert set(others.values()) == {"passed"}, others


def test_sys_exit_at_import_keeps_what_was_defined_before(tmp_path):
    # sys.exit at the very end: everything is defined, the exit is reported as a warning
    sub = with_override(tmp_path, _write(tmp_path, SYS_EXIT_AT_IMPORT))
    report, stdout = grade_json(tmp_path, sub, "--all", "-q", "q5")
    assert report["score"] == report["max_score"]
    assert "sys.exit" in stdout


def test_raise_at_import_keeps_earlier_names_and_loses_later_ones(tmp_path):
    text = (SUBMISSIONS / "correct.py").read_text()
    cut = text.index("def chinchilla_optimal")
    sub = tmp_path / "hw11.py"
    sub.write_text(text[:cut] + RAISES_AT_IMPORT_MIDWAY + text[cut:])
    report, stdout = grade_json(tmp_path, sub, "--all", "-q", "q1", "q5")
    s = statuses(report)
    assert all(v == "passed" for k, v in s.items() if k.startswith("q1.") and "answers" not in k)
    assert s["q5.chinchilla_optimal.numeric"] == "missing"
    assert "broken cell" in stdout


def _write(tmp_path, text):
    p = tmp_path / "override.py"
    p.write_text(text)
    return p


# ---------------------------------------------------------------- the infrastructure's faults

class _KilledAtHandshake:
    """A ChildBoundary whose first ``fails`` children are killed before their handshake."""

    @staticmethod
    def make(fails):
        import os
        import signal

        from hw11grader.boundary import ChildBoundary

        class Boundary(ChildBoundary):
            def _spawn(self):
                super()._spawn()
                if self.starts <= fails:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()

        return Boundary


def test_a_child_killed_at_its_handshake_is_retried_not_charged_to_the_student():
    from hw11grader.loading import load
    sub = load(SUBMISSIONS / "correct.py")
    with _KilledAtHandshake.make(1)(sub) as boundary:
        manifest = boundary.start()
        assert manifest.status == "ok" and boundary.starts == 2
        assert boundary.call("lora_bytes", (3, 4, 2), seed=0) == 56


def test_a_child_that_never_starts_is_a_grader_error_never_a_load_error():
    from hw11grader.loading import load
    from hw11grader.outcomes import GraderError
    sub = load(SUBMISSIONS / "correct.py")
    with _KilledAtHandshake.make(99)(sub) as boundary:
        with pytest.raises(GraderError, match="could not be started"):
            boundary.start()
        assert boundary.starts == 2


def test_a_grader_owned_experiment_returning_malformed_data_is_a_grader_error(monkeypatch):
    """The experiments are the grader's code: their malformed output is never the student's fault."""
    import runpy

    import experiments.q7_sensitivity
    from hw11grader import load_content
    from hw11grader.boundary import InProcessBoundary
    from hw11grader.judge.runner import run_check

    names = runpy.run_path(str(SUBMISSIONS / "correct.py"))
    boundary = InProcessBoundary({k: v for k, v in names.items() if not k.startswith("__")})
    manifest = boundary.start()
    entry = next(e for e in load_content().entries if e.id == "q7.sensitivity.weights_centred")
    assert run_check(entry, boundary, manifest).status == "passed"
    monkeypatch.setattr(experiments.q7_sensitivity, "sensitivity", lambda lab, **k: {"layers": "?"})
    result = run_check(entry, boundary, manifest)
    assert result.status == "grader_error" and result.score == 0, result


def test_big_arrays_cross_through_shared_regions_sealed_at_their_size():
    """The regions a child shares with the grader are memfds it can write but never resize (a
    shrunk region would SIGBUS the grader reading it); a big array reaches the child through the
    request region and comes back through the reply region, intact, copied out of it."""
    import fcntl
    import os

    import numpy as np

    from hw11grader.boundary import ChildBoundary, _shared_regions
    from hw11grader.loading import load

    regions = _shared_regions()
    assert len(regions) == 2
    sealed = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL
    for fd, _ in regions:
        assert fcntl.fcntl(fd, fcntl.F_GET_SEALS) & sealed == sealed
        with pytest.raises(PermissionError):
            os.ftruncate(fd, 0)
        with pytest.raises(PermissionError):
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE)     # no seal can be changed
        os.close(fd)
    assert not memoryview(regions[0][1]).readonly and memoryview(regions[1][1]).readonly

    g = np.random.default_rng(0)
    params, grads = [g.standard_normal((500, 700))], [g.standard_normal((500, 700))]   # 2.8 MB each
    with ChildBoundary(load(SUBMISSIONS / "correct.py")) as boundary:
        assert boundary.start().status == "ok"
        out = boundary.map("sgd_update", [((params, grads, 0.5), {}), ((grads, params, 2.0), {})], seed=0)
        assert bytes(boundary.req_region[:params[0].nbytes]) == params[0].tobytes()   # sent there
        reply_region = boundary.reader.region
        assert bytes(reply_region[:params[0].nbytes]) == out[0][0].tobytes()         # and back
        assert not np.shares_memory(out[0][0], np.frombuffer(reply_region, dtype=np.uint8))
    assert np.array_equal(out[0][0], params[0] - 0.5 * grads[0])
    assert np.array_equal(out[1][0], grads[0] - 2.0 * params[0])


PIPELINED = """
_log = []
def echo(x, tag):
    _log.append(tag)
    if tag == "raise":
        raise ValueError("asked to")
    if tag == "die":
        import os
        os._exit(4)
    return x * 2
def log():
    return list(_log)
"""


@pytest.fixture
def pipelined(tmp_path):
    from hw11grader.boundary import ChildBoundary
    from hw11grader.loading import load

    path = tmp_path / "hw11.py"
    path.write_text(PIPELINED)
    with ChildBoundary(load(path)) as boundary:
        assert boundary.start().status == "ok"
        yield boundary


def _big(offset=0.0):
    import numpy as np
    return np.arange(400 * 500, dtype=np.float64).reshape(400, 500) + offset     # 1.6 MB: a region blob


def test_two_maps_in_flight_are_the_same_calls_in_the_same_order_as_one_after_the_other(pipelined):
    import numpy as np

    x, y = _big(), _big(1.0)
    first = pipelined.map_start("echo", [((x, "a1"), {}), ((y, "a2"), {})], seed=0)
    second = pipelined.map_start("echo", [((y, "b1"), {})], seed=0)
    with pytest.raises(RuntimeError, match="more than two"):
        pipelined.map_start("echo", [((x, "c1"), {})], seed=0)
    with pytest.raises(RuntimeError, match="out of order"):
        pipelined.map_finish(second)
    a1, a2 = pipelined.map_finish(first)
    (b1,) = pipelined.map_finish(second)
    assert np.array_equal(a1, 2 * x) and np.array_equal(a2, 2 * y) and np.array_equal(b1, 2 * y)
    assert pipelined.call("log", seed=0) == ["a1", "a2", "b1"]
    assert pipelined.starts == 1


def test_a_map_that_raises_while_another_is_in_flight_costs_only_its_own_result(pipelined):
    from hw11grader.outcomes import StudentError

    failing = pipelined.map_start("echo", [((_big(), "raise"), {})], seed=0)
    pipelined.map_start("echo", [((_big(), "after"), {})], seed=0)     # never finished
    with pytest.raises(StudentError, match="asked to"):
        pipelined.map_finish(failing)
    assert pipelined.call("log", seed=0) == ["raise", "after"]       # the other's reply dropped
    assert pipelined.starts == 1 and not pipelined.inflight


@pytest.mark.parametrize("wait_for_the_death", [False, True])
def test_a_death_while_two_maps_are_in_flight_is_charged_to_the_first(pipelined, wait_for_the_death):
    """The child answers in order: found dead when the second map is sent, or when the first is
    read, it died in the first, and the message says so either way."""
    from hw11grader.outcomes import StudentError

    first = pipelined.map_start("echo", [((_big(), "die"), {})], seed=0)
    if wait_for_the_death:
        pipelined.proc.wait(timeout=30)
    try:
        pipelined.map_start("echo", [((_big(), "never"), {})], seed=0)
        with pytest.raises(StudentError) as raised:
            pipelined.map_finish(first)
    except StudentError as e:  # (the send found it dead)
        raised = pytest.ExceptionInfo.from_exc_info((type(e), e, e.__traceback__))
    assert "died during echo(" in raised.value.message and "'die'" in raised.value.message
    assert "'never'" not in raised.value.message
    assert pipelined.call("log", seed=0) == [] and pipelined.starts == 2   # a fresh process


def test_a_child_told_not_to_poll_answers_the_same(tmp_path):
    """``Limits(poll=False)`` (a batch with a grading per core): both sides sleep on the pipes."""
    from hw11grader.boundary import ChildBoundary, Limits
    from hw11grader.loading import load

    path = tmp_path / "hw11.py"
    path.write_text(PIPELINED)
    with ChildBoundary(load(path), Limits(poll=False)) as boundary:
        assert boundary.start().status == "ok"
        assert boundary.reader.waiter.poll is False
        first = boundary.map_start("echo", [((3, "a"), {}), ((4, "b"), {})], seed=0)
        second = boundary.map_start("echo", [((5, "c"), {})], seed=0)
        assert boundary.map_finish(first) == [6, 8] and boundary.map_finish(second) == [10]
        assert boundary.call("log", seed=0) == ["a", "b", "c"]


def test_a_reply_that_arrived_while_the_grader_was_busy_is_never_a_timeout(tmp_path):
    """The load's clock runs from ``begin``; the grader imports its checks meanwhile. If that
    takes longer than the load's limit (a loaded machine), a load that was over long before is
    still the submission's success, not its timeout; a load still running past it is a timeout."""
    import time

    from hw11grader.boundary import ChildBoundary, Limits
    from hw11grader.loading import load

    path = tmp_path / "hw11.py"
    path.write_text("x = 1\n")
    with ChildBoundary(load(path), Limits(load_timeout=1.0)) as boundary:
        boundary.begin()
        deadline = time.monotonic() + 60
        while not boundary.loaded():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(1.5)                              # the grader, busy past the load's limit
        assert boundary.start().status == "ok"
    slow = tmp_path / "slow" / "hw11.py"
    slow.parent.mkdir()
    slow.write_text("import time\ntime.sleep(30)\n")
    with ChildBoundary(load(slow), Limits(load_timeout=1.0)) as boundary:
        boundary.begin()
        time.sleep(1.5)
        assert boundary.start().status == "timeout"


def test_loaded_says_when_the_wait_for_the_load_is_over(tmp_path):
    """What the grader does while the submission loads (runner._while_loading) stops once it has."""
    import time

    from hw11grader.boundary import ChildBoundary
    from hw11grader.loading import load

    path = tmp_path / "hw11.py"
    path.write_text("x = 1\n")
    with ChildBoundary(load(path)) as boundary:
        assert boundary.loaded() is True            # not begun: no load to wait for
        boundary.begin()
        deadline = time.monotonic() + 60
        while not boundary.loaded():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert boundary.start().status == "ok" and boundary.loaded() is True


SYMBOLIC = """
import sys
def stub(a, b):
    "Not written yet."
    raise NotImplementedError("write me")
def nbytes(a, b):
    return a * b * 4
def imported():
    return "sympy" in sys.modules
"""


def test_a_stub_called_with_symbols_imports_no_sympy_in_the_child(tmp_path):
    """A function that raises NotImplementedError before anything else (the template's stubs)
    gets its symbols unresolved, so the child imports no sympy for it (0.2 s of the blank
    template's first symbolic check) and the outcome is the same; any other function gets
    positive real sympy Symbols, as before."""
    from hw11grader.boundary import ChildBoundary
    from hw11grader.boundary.child.wire import Expr, Symbol
    from hw11grader.loading import load
    from hw11grader.outcomes import Missing

    path = tmp_path / "hw11.py"
    path.write_text(SYMBOLIC)
    with ChildBoundary(load(path)) as boundary:
        assert boundary.start().status == "ok"
        with pytest.raises(Missing, match=r"^stub raises NotImplementedError \(not implemented yet\)$"):
            boundary.call("stub", (Symbol("m"), Symbol("l")), {}, seed=0)
        assert boundary.call("imported", (), {}, seed=0) is False
        out = boundary.call("nbytes", (Symbol("m"),), {"b": Symbol("l")}, seed=0)
        assert boundary.call("imported", (), {}, seed=0) is True
    assert isinstance(out, Expr) and "m" in repr(out.tree) and "l" in repr(out.tree)


def test_a_call_is_described_only_for_a_message(pipelined, monkeypatch):
    """The description of a call (its arguments summarised) is made only when a message shows it:
    a call or map that succeeds costs none; one that fails shows exactly ``describe_call``'s."""
    import hw11grader.boundary as boundary_module
    from hw11grader.outcomes import StudentError

    made = []
    real = boundary_module.describe_call
    monkeypatch.setattr(boundary_module, "describe_call", lambda *a: made.append(a) or real(*a))
    assert pipelined.call("echo", (3, "a"), {}, seed=0) == 6
    assert pipelined.map("echo", [((4, "b"), {}), ((5, "c"), {})], seed=0) == [8, 10]
    assert made == []
    with pytest.raises(StudentError) as raised:
        pipelined.call("echo", (3, "raise"), {}, seed=0)
    assert raised.value.message.startswith(f"{real('echo', (3, 'raise'), {})} raised ValueError: asked to")
    with pytest.raises(StudentError) as raised:
        pipelined.map("echo", [((4, "d"), {}), ((5, "raise"), {})], seed=0)
    assert raised.value.message.startswith(f"{real('echo', (5, 'raise'), {})} raised ValueError")
