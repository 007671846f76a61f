"""A submission that tampers with its own process costs only its own checks, never a grader error.

Each ``submissions/tamper_*.py`` defines a few Q3 and Q5 functions honestly
and, at import time or inside one of them, changes something in the
process it runs in: ``json``, ``struct``, ``numpy``, ``os.write`` /
``os.read``, builtins, entries of ``sys.modules``, functions of the child
program (``sys.modules['__main__']``) or of its ``wire`` module, or the
pipes themselves (garbage, forged frames, closed or redirected). Graded
with ``--all -q q5 q3``, every one must give exit code 0, a valid report,
no ``grader_error`` anywhere, a score of 0 with a student status for the
checks whose calls went through the tampered path, and - where the child
program binds what it uses before any student code runs - a pass for the
honest checks the tampering cannot reach.

The unit tests below feed a boundary replies of every wrong shape (as a
tampered child could send them, nonce and all) and assert that each is the
student's error, never the grader's.
"""
import json
import struct
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import run_grader

HERE = Path(__file__).parent / "submissions"
# Generous limits (as in test_adversarial.py): the status a test asserts is the tampering's own,
# never a timeout because the machine was loaded. Only tamper_close_pipe.py waits on purpose.
LIMITS = ["--call-timeout", "60", "--load-timeout", "120", "--time-limit", "600", "--memory-mb", "1536"]
GUARD_S = 900
pytestmark = pytest.mark.timeout(GUARD_S + 120)

STUDENT_STATUSES = {"failed", "error", "timeout", "missing"}
CHECKS = {  # the functions every tamper_*.py defines, and the checks that call them
    "qk_matrix": ["q3.qk_matrix.matches_reference"],
    "ov_matrix": ["q3.ov_matrix.matches_reference"],
    "attention_mix": ["q3.attention_mix.matches_reference", "q3.attention_mix.convex_combination"],
    "param_bytes": ["q5.param_bytes.matches_reference"],
    "petaflop_days": ["q5.petaflop_days.matches_reference"],
    "compute_for_params": ["q5.compute_for_params.matches_reference"],
    "tokens_to_books": ["q5.tokens_to_books.matches_reference"],
    "ANSWERS": ["q5.answers.q5c_C"],  # read from the reply to loading
}
Q3 = ("qk_matrix", "ov_matrix", "attention_mix")
Q5 = ("param_bytes", "petaflop_days", "compute_for_params", "tokens_to_books")
CALLS = Q3 + Q5
EVERYTHING = CALLS + ("ANSWERS",)

# submission: (what it must cost: those checks score 0 with a student status,
#              what it must not cost: those checks pass, extra options)
CASES = {
    # what the child program uses is bound before any student code runs: nothing is lost
    "tamper_json_dumps.py": ((), EVERYTHING, ()),
    "tamper_json_loads.py": ((), EVERYTHING, ()),
    "tamper_json_internals.py": ((), EVERYTHING, ()),
    "tamper_struct.py": ((), EVERYTHING, ()),
    "tamper_numpy_functions.py": ((), EVERYTHING, ()),
    "tamper_numpy_types.py": (("attention_mix",), ("qk_matrix", "ov_matrix") + Q5 + ("ANSWERS",), ()),
    "tamper_os_write.py": ((), EVERYTHING, ()),
    "tamper_os_read.py": ((), EVERYTHING, ()),
    "tamper_sys_modules.py": ((), EVERYTHING, ()),
    "tamper_builtins.py": ((), EVERYTHING, ()),
    # the child program's own functions, its wire module, or the pipes: the checks that go through them
    "tamper_sys_modules_torch.py": (CALLS, ("ANSWERS",), ()),
    "tamper_child_reseed.py": (CALLS, ("ANSWERS",), ()),
    "tamper_child_to_plain.py": (Q3, Q5 + ("ANSWERS",), ()),
    "tamper_wire_pack.py": (EVERYTHING, (), ()),
    "tamper_wire_unpack.py": (CALLS, ("ANSWERS",), ()),
    "tamper_wire_encoder.py": (EVERYTHING, (), ()),
    "tamper_forged_replies.py": (CALLS, ("ANSWERS",), ()),
    "tamper_raw_frames.py": (CALLS, ("ANSWERS",), ()),
    "tamper_reply_pipe.py": (("param_bytes", "petaflop_days", "compute_for_params", "qk_matrix"),
                             ("ov_matrix", "attention_mix", "tokens_to_books", "ANSWERS"), ()),
    "tamper_close_pipe.py": (Q3, Q5 + ("ANSWERS",), ("--call-timeout", "15")),  # ov_matrix: a timeout
    "tamper_load_reply.py": (EVERYTHING, (), ()),
    "tamper_manifest.py": (EVERYTHING, (), ()),
}
# those that restart the child once per function (a Python start and a torch import each), and the
# one that waits out a timeout; the unit tests below cover what they send, in-process
SLOW = {"tamper_close_pipe.py", "tamper_raw_frames.py", "tamper_wire_unpack.py", "tamper_forged_replies.py",
        "tamper_sys_modules_torch.py", "tamper_reply_pipe.py", "tamper_child_reseed.py"}


def test_every_tamper_submission_has_a_case():
    assert sorted(p.name for p in HERE.glob("tamper_*.py")) == sorted(CASES)


def _ids(functions):
    return [cid for f in functions for cid in CHECKS[f]]


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in CASES])
def test_tampering_costs_only_the_students_own_checks(tmp_path, name):
    affected, intact, extra = CASES[name]
    out = tmp_path / "report.json"
    code, stdout, stderr = run_grader(HERE / name, "--all", "-q", "q5", "q3", "--json", out, *LIMITS, *extra,
                                      "--feedback", tmp_path / "feedback", timeout=GUARD_S)
    assert code == 0, f"exit {code}\n{stdout[-3000:]}\n{stderr[-3000:]}"
    report = json.loads(out.read_text())
    assert report["schema"] == 1
    assert abs(report["score"] - sum(c["score"] for c in report["checks"])) < 1e-9
    by_id = {c["id"]: c for c in report["checks"]}
    assert {c["question"] for c in report["checks"]} == {"q3", "q5"}
    grader_errors = [(c["id"], c["message"]) for c in report["checks"] if c["status"] == "grader_error"]
    assert not grader_errors, grader_errors
    assert not report.get("grader_errors"), report.get("grader_errors")
    for cid in _ids(affected):
        assert by_id[cid]["status"] in STUDENT_STATUSES and by_id[cid]["score"] == 0, by_id[cid]
    for cid in _ids(intact):
        assert by_id[cid]["status"] == "passed", by_id[cid]


# ---------------------------------------------------------------- replies of every wrong shape

def _boundary(replies):
    """A ChildBoundary whose child answers with ``replies`` (already decoded, nonce checked)."""
    from hw11grader.boundary import ChildBoundary, Limits

    class Scripted(ChildBoundary):
        def __init__(self):  # no process, no folders: only the reply handling is under test
            self.limits = Limits()
            self.deadline = time.monotonic() + 600
            self.proc, self.generation, self.disabled, self.manifest = object(), 1, {}, None
            self.inflight = ()
            self.replies, self.kills = list(replies), 0

        def _start_python(self, attempts=2):
            pass

        def _load_request(self):
            return {"op": "load"}

        def _restart(self):
            self.proc, self.generation = object(), self.generation + 1

        def _roundtrip(self, request, timeout, what):
            return self.replies.pop(0)

        def _send(self, request, deadline, timeout, what):  # the load is sent by begin() ...
            pass

        def _receive(self, deadline, timeout, what):  # ... and its reply read by start()
            return self.replies.pop(0)

        def _kill(self):
            self.proc, self.kills = None, self.kills + 1

        def close(self):
            pass

    return Scripted()


def _handle(number=1, type_name="LoRALinear"):
    from hw11grader.boundary.child import wire
    h = wire.Handle(number, type_name)
    h.generation = 1
    return h


GOOD_LOAD = {"ok": True, "cells": [{"name": "hw11.py", "status": "ok"}], "names": {"f": "function"},
             "answers": {"present": True, "value": {"q5c_C": 1.0}}, "written": {"present": False}}


@pytest.mark.parametrize("reply", [
    {"ok": False, "kind": "child_fault", "message": "forged"},
    {"ok": False},
    {"ok": "yes"},
    dict(GOOD_LOAD, cells="not a list"),
    dict(GOOD_LOAD, cells=[{"name": 3, "status": "ok"}]),
    dict(GOOD_LOAD, cells=[{"name": "c", "status": "weird"}]),
    dict(GOOD_LOAD, cells=[{"name": "c", "status": "error", "message": ["x"]}]),
    dict(GOOD_LOAD, cells=["cell"]),
    dict(GOOD_LOAD, names=["f"]),
    dict(GOOD_LOAD, names="f"),
    dict(GOOD_LOAD, names={"f": 1}),
    dict(GOOD_LOAD, names={"f": "spaceship"}),
    dict(GOOD_LOAD, answers=[1]),
    dict(GOOD_LOAD, answers={"present": "yes"}),
    dict(GOOD_LOAD, answers={"present": True, "value": [1, 2]}),
    dict(GOOD_LOAD, answers={"present": True, "error": 5}),
    dict(GOOD_LOAD, written={"present": True, "value": {"q1b": _handle()}}),
    dict(GOOD_LOAD, names=None),
])
def test_a_malformed_reply_to_loading_is_a_submission_that_could_not_be_loaded(reply):
    boundary = _boundary([reply])
    manifest = boundary.start()
    assert manifest.status == "died" and "could not read" in manifest.message, manifest
    assert boundary.kills == 1


def test_a_well_formed_reply_to_loading_is_kept():
    boundary = _boundary([GOOD_LOAD])
    manifest = boundary.start()
    assert manifest.status == "ok" and manifest.names == {"f": "function"}
    assert manifest.answers == {"present": True, "value": {"q5c_C": 1.0}}


def _started(replies):
    boundary = _boundary([GOOD_LOAD, *replies])
    assert boundary.start().status == "ok"
    return boundary


def _student_outcome(fn):
    from hw11grader.outcomes import Outcome
    with pytest.raises(Outcome) as caught:
        fn()
    return caught.value


@pytest.mark.parametrize("reply", [
    {"ok": False, "kind": "child_fault", "message": "forged"},
    {"ok": False, "kind": "bad_request", "message": "forged"},
    {"ok": False, "kind": "no such kind"},
    {"ok": False, "kind": ["raised"]},
    {"ok": "yes", "value": 1.0},
    {"ok": None},
    {"value": 1.0},
    {"ok": True, "value": _handle()},  # a handle nobody asked to keep
    {"ok": True, "value": [1.0, {"x": (_handle(),)}]},
])
def test_a_forged_reply_to_a_call_is_the_students_error(reply):
    from hw11grader.outcomes import StudentError
    boundary = _started([reply])
    outcome = _student_outcome(lambda: boundary.call("f", (1.0,), seed=0))
    assert isinstance(outcome, StudentError) and outcome.fatal, outcome
    assert boundary.kills == 1 and "f" in boundary.disabled


def test_a_forged_raised_reply_with_wrong_types_is_still_the_students_error():
    from hw11grader.outcomes import Missing, StudentError
    boundary = _started([{"ok": False, "kind": "raised", "message": ["x"], "traceback": {"a": 1}, "fatal": "yes"},
                         {"ok": False, "kind": "not_implemented", "function": ["f"], "message": None}])
    assert isinstance(_student_outcome(lambda: boundary.call("f", (), seed=0)), StudentError)
    assert isinstance(_student_outcome(lambda: boundary.call("g", (), seed=0)), Missing)


@pytest.mark.parametrize("keep, value", [
    (True, 1.0),  # keep=True must give a handle
    (True, [_handle()]),
    ([1], (1.0, 2.0, _handle())),  # a handle where none was kept
    ([1], (_handle(), _handle())),
])
def test_handles_are_accepted_only_where_they_were_asked_for(keep, value):
    from hw11grader.outcomes import StudentError
    boundary = _started([{"ok": True, "value": value}])
    assert isinstance(_student_outcome(lambda: boundary.call("f", (), seed=0, keep=keep)), StudentError)


def test_kept_handles_that_are_where_they_were_asked_for_are_accepted():
    from hw11grader.boundary.child import wire
    boundary = _started([{"ok": True, "value": _handle()}, {"ok": True, "value": ([1.0], _handle(2))},
                         {"ok": True, "value": [1.0]}])  # keep=[1] on a value that is no pair: no handle
    assert isinstance(boundary.call("f", (), seed=0, keep=True), wire.Handle)
    assert isinstance(boundary.call("f", (), seed=0, keep=[1])[1], wire.Handle)
    assert boundary.call("f", (), seed=0, keep=[1]) == [1.0]


@pytest.mark.parametrize("value", [
    [1.0], "result", {"result": 1.0}, {"result": 1.0, "mutated": "no"}, {"result": 1.0, "mutated": [1]},
    {"result": 1.0, "mutated": [False, False]},  # one argument, two answers
])
def test_a_malformed_watched_call_is_the_students_error(value):
    from hw11grader.outcomes import StudentError
    boundary = _started([{"ok": True, "value": value}])
    outcome = _student_outcome(lambda: boundary.call("f", (np.zeros(2),), seed=0, watch=True))
    assert isinstance(outcome, StudentError)


@pytest.mark.parametrize("value", [None, 1.0, {"0": 1}, [1.0], [1.0, 2.0, 3.0], [1.0, _handle()]])
def test_a_malformed_batch_reply_is_the_students_error(value):
    from hw11grader.outcomes import StudentError
    boundary = _started([{"ok": True, "value": value}])
    calls = [((1.0,), {}), ((2.0,), {})]
    assert isinstance(_student_outcome(lambda: boundary.map("f", calls, seed=0)), StudentError)


def test_a_forged_batch_failure_index_is_ignored():
    from hw11grader.outcomes import StudentError
    boundary = _started([{"ok": False, "kind": "raised", "message": "E", "index": 10**9},
                         {"ok": False, "kind": "raised", "message": "E", "index": "1"}])
    for _ in range(2):
        assert isinstance(_student_outcome(lambda: boundary.map("f", [((1.0,), {})], seed=0)), StudentError)
        boundary.disabled.clear()


GOOD_PARAMETER = {"name": "A", "shape": [2, 1], "dtype": "torch.float32", "requires_grad": True,
                  "value": np.zeros((2, 1))}
GOOD_ATTR = {"present": True, "is_tensor": True, "is_parameter": True, "is_buffer": False, "requires_grad": True,
             "shape": [2, 1], "dtype": "torch.float32", "value": np.zeros((2, 1))}
GOOD_INSPECT = {"is_module": True, "parameters": [GOOD_PARAMETER], "buffers": ["W0"],
                "attrs": {"A": GOOD_ATTR, "W0": {"present": False}}}


@pytest.mark.parametrize("value", [
    None, [GOOD_INSPECT], dict(GOOD_INSPECT, is_module="yes"), dict(GOOD_INSPECT, parameters={"A": 1}),
    dict(GOOD_INSPECT, parameters=[dict(GOOD_PARAMETER, shape="2x1")]),
    dict(GOOD_INSPECT, parameters=[dict(GOOD_PARAMETER, shape=[-1])]),
    dict(GOOD_INSPECT, parameters=[dict(GOOD_PARAMETER, value=np.zeros(3))]),
    dict(GOOD_INSPECT, parameters=[dict(GOOD_PARAMETER, value=[[0.0], [0.0]])]),
    dict(GOOD_INSPECT, parameters=[dict(GOOD_PARAMETER, name=None)]),
    dict(GOOD_INSPECT, parameters=[dict(GOOD_PARAMETER, requires_grad=1)]),
    dict(GOOD_INSPECT, buffers="W0"), dict(GOOD_INSPECT, buffers=[1]),
    dict(GOOD_INSPECT, attrs=[]), dict(GOOD_INSPECT, attrs={"A": "present"}),
    dict(GOOD_INSPECT, attrs={"A": dict(GOOD_ATTR, shape=None)}),
    dict(GOOD_INSPECT, attrs={"A": dict(GOOD_ATTR, value="0")}),
    dict(GOOD_INSPECT, attrs={"A": dict(GOOD_ATTR, is_parameter="no")}),
    dict(GOOD_INSPECT, attrs={"A": {"present": "no"}}),
    dict(GOOD_INSPECT, attrs={"Z": {"present": False}}),  # an attribute nobody asked about
])
def test_a_malformed_inspection_is_the_students_error(value):
    from hw11grader.outcomes import StudentError
    boundary = _started([{"ok": True, "value": value}])
    outcome = _student_outcome(lambda: boundary.inspect(_handle(), ("A", "W0"), seed=0))
    assert isinstance(outcome, StudentError)


def test_a_well_formed_inspection_is_accepted():
    boundary = _started([{"ok": True, "value": GOOD_INSPECT}])
    assert boundary.inspect(_handle(), ("A", "W0"), seed=0)["parameters"][0]["name"] == "A"


@pytest.mark.parametrize("value", [
    None, {"output": 1.0}, {"output": 1.0, "backward": "no", "grads": {}},
    {"output": 1.0, "backward": True, "grads": []}, {"output": 1.0, "backward": True, "grads": {"A": "g"}},
    {"output": 1.0, "backward": True, "grads": {"A": _handle()}}, {"output": _handle(), "backward": False, "grads": {}},
])
def test_a_malformed_vjp_reply_is_the_students_error(value):
    from hw11grader.outcomes import StudentError
    boundary = _started([{"ok": True, "value": value}])
    assert isinstance(_student_outcome(lambda: boundary.vjp(_handle(), (np.zeros(2),), None, seed=0)), StudentError)


def test_a_well_formed_vjp_reply_and_assignment_are_accepted():
    boundary = _started([{"ok": True, "value": {"output": np.zeros(2), "backward": True,
                                                "grads": {"A": np.zeros(2), "B": None}}},
                         {"ok": True, "value": None}])
    assert boundary.vjp(_handle(), (np.zeros(2),), np.ones(2), seed=0)["backward"] is True
    assert boundary.assign(_handle(), {"A": np.zeros(2)}, seed=0) is None


def test_a_malformed_assignment_reply_is_the_students_error():
    from hw11grader.outcomes import StudentError
    boundary = _started([{"ok": True, "value": {"done": True}}])
    assert isinstance(_student_outcome(lambda: boundary.assign(_handle(), {"A": np.zeros(2)}, seed=0)),
                      StudentError)


# ---------------------------------------------------------------- the decoder, on bytes no honest child sends

def _frame(body: bytes, blobs=()):
    data = struct.pack(">II", len(body), len(blobs)) + body
    for b in blobs:
        data += struct.pack(">Q", len(b)) + b
    pos = [0]

    def read(n):
        out = data[pos[0]:pos[0] + n]
        pos[0] += n
        return out

    return read


@pytest.mark.parametrize("body, blobs", [
    (b'{"v": {"$handle": "seven", "type": "Tensor"}}', []),
    (b'{"v": {"$handle": null}}', []),
    (b'{"v": {"$handle": [1]}}', []),
    (b'{"v": {"$handle": 1.5}}', []),
    (b'{"v": {"$handle": true}}', []),
    (b'{"v": {"$array": 0, "dtype": ["float64"], "shape": [1]}}', [b"\x00" * 8]),
    (b'{"v": {"$array": 0, "dtype": {"a": 1}, "shape": [1]}}', [b"\x00" * 8]),
    (b'{"v": {"$array": 0, "dtype": "float64", "shape": [1], "as": ["torch"]}}', [b"\x00" * 8]),
    (b'{"v": {"$expr": [["Add"], []]}}', []),
    (b'{"v": {"$expr": [{"a": 1}, []]}}', []),
    (b'{"v": {"$opaque": ["list"]}}', []),
    (b'{"v": {"$sym": 5}}', []),
    (b'{"v": {"$generator": "seed"}}', []),
    (b'{"v": {"$float": ["nan"]}}', []),
])
def test_the_decoder_refuses_wrong_types_in_tags_as_wire_errors(body, blobs):
    from hw11grader.boundary.child import wire
    with pytest.raises(wire.WireError):
        wire.unpack(_frame(body, blobs), lambda tag, value: value)


def test_the_child_program_runs_with_what_it_bound_before_the_submission():
    """The child binds json, struct, numpy, os and builtins at start-up (patching them later changes nothing)."""
    from hw11grader.boundary.child import child_main, wire
    assert wire.__builtins__ is not sys.modules["builtins"].__dict__
    assert child_main.__builtins__ is not sys.modules["builtins"].__dict__
    assert "dumps" not in wire.pack.__code__.co_names and "frombuffer" not in wire._decode_tag.__code__.co_names
