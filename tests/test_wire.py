"""The plain-data wire format: round trips, and refusal of anything else."""
import math
import struct

import numpy as np
import pytest

from hw11grader.boundary.child import child_main

from hw11grader.boundary.child import wire
from hw11grader.boundary import pack_request


def roundtrip(value, to_plain=None):
    data = wire.pack({"v": value}, to_plain)
    pos = [0]

    def read(n):
        out = data[pos[0]:pos[0] + n]
        pos[0] += n
        return out

    return wire.unpack(read)["v"]


@pytest.mark.parametrize("value", [
    None, True, 3, -2**70, 1.5, "text", [1, [2.5, "x"]], {"a": {"b": [None]}}, (1, (2, 3)),
    {"$weird": 1, "$$x": 2},
])
def test_plain_values_round_trip(value):
    assert roundtrip(value) == value


def test_non_finite_floats_round_trip():
    out = roundtrip([math.nan, math.inf, -math.inf])
    assert math.isnan(out[0]) and out[1] == math.inf and out[2] == -math.inf


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int8", "uint8", "bool"])
def test_arrays_round_trip_with_dtype_and_shape(dtype):
    a = (np.arange(24).reshape(2, 3, 4) % 5).astype(dtype)
    out = roundtrip(a)
    assert out.dtype == a.dtype and out.shape == a.shape and np.array_equal(out, a)


def test_zero_dimensional_and_non_contiguous_arrays_keep_their_shape():
    for a in (np.array(3.5), np.arange(12.0).reshape(3, 4).T, np.zeros((0, 2))):
        out = roundtrip(a)
        assert out.shape == a.shape and np.array_equal(out, a)


def test_numpy_scalars_become_python_numbers():
    assert roundtrip(np.float64(2.5)) == 2.5 and type(roundtrip(np.int64(3))) is int


class LyingFloat(float):
    def __eq__(self, other):
        return True


class AlwaysEqual:
    def __eq__(self, other):
        return True


@pytest.mark.parametrize("value", [LyingFloat(1.0), AlwaysEqual(), np.array([1 + 2j]), object()])
def test_what_is_not_plain_data_cannot_cross(value):
    with pytest.raises(wire.WireError):
        wire.pack({"v": value})


def test_child_side_turns_unknown_objects_into_opaque_records():
    out = roundtrip(AlwaysEqual(), child_main.to_plain)
    assert isinstance(out, wire.Opaque) and out.type_name == "AlwaysEqual"
    assert out != 1 or True  # an Opaque is a plain record: it never compares equal to a number
    assert not (out == 1)


def test_child_side_turns_tensors_into_arrays():
    torch = pytest.importorskip("torch")
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3).requires_grad_()
    out = roundtrip(t * 1, child_main.to_plain)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == (2, 3)


def test_sympy_expressions_cross_as_whitelisted_trees():
    import sympy
    m, k = sympy.symbols("m k", positive=True)
    out = roundtrip(4 * k * (m + 1) / sympy.sqrt(m), child_main.to_plain)
    assert isinstance(out, wire.Expr) and out.tree[0] in ("Mul", "Add")
    sin = roundtrip(sympy.sin(m), child_main.to_plain)
    assert isinstance(sin, wire.Opaque) and "sin" in sin.type_name


def frame(body: bytes, blobs=()):
    parts = [struct.pack(">II", len(body), len(blobs)), body]
    for b in blobs:
        parts += [struct.pack(">Q", len(b)), b]
    data = b"".join(parts)
    pos = [0]

    def read(n):
        out = data[pos[0]:pos[0] + n]
        pos[0] += n
        return out

    return read


@pytest.mark.parametrize("body, blobs", [
    (b'{"v": {"$array": 0, "dtype": "object", "shape": [1]}}', [b"x" * 8]),
    (b'{"v": {"$array": 0, "dtype": "float64", "shape": [3]}}', [b"x" * 8]),
    (b'{"v": {"$array": 5, "dtype": "float64", "shape": [1]}}', [b"x" * 8]),
    (b'{"v": {"$expr": ["Call", ["__import__", "os"]]}}', []),
    (b'{"v": {"$expr": ["Symbol", "a.b"]}}', []),
    (b'{"v": NaN}', []),
    (b'{"v": {"$unknown": 1}}', []),
    (b'not json', []),
    (b'[' * 100000, []),
])
def test_malformed_frames_are_refused(body, blobs):
    with pytest.raises(wire.WireError):
        wire.unpack(frame(body, blobs))


def test_parent_sends_arrays_as_tensors_and_symbols_as_tags():
    data = pack_request({"args": [np.eye(2), wire.Symbol("m")]})
    pos = [0]

    def read(n):
        out = data[pos[0]:pos[0] + n]
        pos[0] += n
        return out

    args = wire.unpack(read, child_main.from_tag)["args"]
    import sympy
    import torch
    assert isinstance(args[0], torch.Tensor) and args[0].dtype == torch.float64
    assert isinstance(args[1], child_main.PendingSymbol)          # sympy is imported for a call
    resolved = child_main.resolved([args, {"k": (args[1],)}])
    assert isinstance(resolved[0][1], sympy.Symbol) and resolved[0][1].is_positive
    assert resolved[1]["k"][0] == resolved[0][1] and resolved[0][0] is args[0]


STUBS = """
def bare(a): raise NotImplementedError
def called(a):
    "A docstring."
    raise NotImplementedError()
def message(a, b=2, *c, d, **e): raise NotImplementedError("write me")
def guarded(a):
    if a: raise NotImplementedError
def later(a):
    x = a
    raise NotImplementedError
def generator(a):
    raise NotImplementedError
    yield
async def coroutine(a): raise NotImplementedError
def other(a): raise ValueError("no")
def computed(a): raise NotImplementedError(str(a))
def two(a): raise NotImplementedError("a", "b")
stub_lambda = lambda a: a
"""


def test_a_function_that_raises_not_implemented_at_once_is_recognised():
    """``child_main._raises_at_once``: the template's stubs, which cannot look at their arguments
    (a call of one gets its symbols unresolved, and sympy is not imported for it). Anything that
    runs code before raising, or could raise something else, is not one."""
    ns = {}
    exec(STUBS, ns)
    found = {k for k, v in ns.items() if k != "__builtins__" and child_main._raises_at_once(v)}
    assert found == {"bare", "called", "message"}
    shadowed = {"NotImplementedError": ValueError}
    exec("def f(a): raise NotImplementedError", shadowed)      # the name means something else there
    assert not child_main._raises_at_once(shadowed["f"])
    other_builtins = {"__builtins__": {"NotImplementedError": ValueError}}
    exec("def f(a): raise NotImplementedError", other_builtins)
    assert not child_main._raises_at_once(other_builtins["f"])
    class Globals(dict):                                       # could answer the lookup with anything
        pass
    odd = Globals(__builtins__=__builtins__)
    exec("def f(a): raise NotImplementedError", odd)
    assert not child_main._raises_at_once(odd["f"])
    assert not any(child_main._raises_at_once(v) for v in (print, type, NotImplementedError, None))


# ---------------------------------------------------------------- validated as data

def test_strings_arrive_as_valid_unicode():
    out = wire.unpack(frame(b'{"v": "a\\ud800b", "k\\udfff": ["\\udc00", {"$opaque": "T\\ud800"}]}'))
    assert out["v"] == "a\ufffdb" and out["k\ufffd"][0] == "\ufffd"
    assert out["k\ufffd"][1].type_name == "T\ufffd"


def test_integers_are_bounded_on_the_json_text_whatever_the_sender_allowed():
    with pytest.raises(wire.WireError, match="integer too large"):
        wire.unpack(frame(b'{"v": ' + b"9" * 4500 + b"}"))  # beyond the receiver's own digit limit
    with pytest.raises(wire.WireError, match="integer too large"):
        wire.unpack(frame(b'{"v": -' + b"9" * 301 + b"}"))
    assert wire.unpack(frame(b'{"v": ' + b"9" * 300 + b"}"))["v"] == 10**300 - 1
    assert float(10**300 - 1) > 0  # every integer that crosses converts to a float
    with pytest.raises(wire.WireError, match="integer too large"):
        wire.pack({"v": 10**300})
    with pytest.raises(wire.WireError):
        wire.unpack(frame(b'{"v": {"$float": "nope"}}'))


def test_a_long_honest_cell_fits_in_the_load_request():
    cell = "x = 1\n" * 60_000  # 360,000 characters
    data = pack_request({"op": "load", "cells": [{"name": "hw11.py", "filename": "hw11.py", "source": cell}]})
    pos = [0]

    def read(n):
        out = data[pos[0]:pos[0] + n]
        pos[0] += n
        return out

    assert wire.unpack(read, child_main.from_tag)["cells"][0]["source"] == cell


def _blob_stream(frame, chunk):
    """``read``/``read_blob`` over ``frame``, handing out at most ``chunk`` bytes per read."""
    pos = [0]

    def read(n):
        out = frame[pos[0]:pos[0] + min(n, chunk)]
        pos[0] += len(out)
        return out

    def read_into(view):
        got = frame[pos[0]:pos[0] + min(len(view), chunk)]
        view[:len(got)] = got
        pos[0] += len(got)
        return len(got)

    def read_blob(n):
        out, _ = wire.read_blob(n, b"", read_into)
        return out

    return read, read_blob


def test_big_blobs_are_read_into_arrays_of_their_own_and_a_shared_one_is_copied():
    """A big array crosses without copies (the decoded array keeps the buffer it was read into), yet
    no two decoded arrays share memory: a blob referred to twice is copied for the second."""
    big = np.arange(wire.BIG_BLOB, dtype=np.float64).reshape(64, -1)   # 8x BIG_BLOB bytes
    frame = pack_request({"a": big, "b": big, "c": [big[:1]]})
    assert len(frame) > big.nbytes + big[:1].nbytes        # the shared array crossed once
    assert len(frame) < 2 * big.nbytes
    read, read_blob = _blob_stream(frame, 4096)
    out = wire.unpack(read, lambda tag, v: v, read_blob)
    a, b, c = out["a"], out["b"], out["c"][0]
    assert np.array_equal(a, big) and np.array_equal(b, big) and np.array_equal(c, big[:1])
    assert a.flags.writeable and b.flags.writeable and not np.shares_memory(a, b)
    owner = a
    while isinstance(owner, (np.ndarray, memoryview)):
        owner = owner.base if isinstance(owner, np.ndarray) else owner.obj
    assert type(owner) is bytearray                         # the buffer it was read into, kept
    a[0, 0] = -1.0
    assert b[0, 0] == 0.0


def test_a_blob_cut_short_is_the_end_of_the_stream():
    got = []

    def read_into(view):
        if got:
            return 0
        view[:3] = b"abc"
        got.append(3)
        return 3

    with pytest.raises(EOFError):
        wire.read_blob(8, b"xy", read_into)
    out, taken = wire.read_blob(4, b"xyzw-extra", read_into)
    assert bytes(out) == b"xyzw" and taken == 4


@pytest.mark.parametrize("slot", [0, 1])
def test_big_blobs_travel_in_the_shared_region_and_are_copied_out_of_it(slot):
    """With a shared region, the big arrays that fit in the frame's half of it go there (the
    stream carries only the rest), and the receiver copies them out: what the sender writes in
    the region afterwards (the next frame, or a submission scribbling on its own side) changes
    nothing already received. A frame in slot 1 leaves the first half alone, and back."""
    big = np.arange(wire.BIG_BLOB, dtype=np.float64).reshape(64, -1)      # 8x BIG_BLOB bytes
    other = -np.arange(wire.BIG_BLOB // 2, dtype=np.float64)                # 4x BIG_BLOB bytes
    half = 2 * big.nbytes + other.nbytes // 2                               # room for a and b
    region = memoryview(bytearray(2 * half))
    message = {"a": big, "b": [big], "c": other, "small": np.ones(3)}
    data = b"".join(wire.pack_parts(message, None, region, slot))
    inline = len(b"".join(wire.pack_parts(message)))
    assert len(data) < inline - 2 * big.nbytes + 4096      # a and b: in the region
    assert other.nbytes < len(data)                         # other did not fit: on the stream
    assert not any(region[(1 - slot) * half:(2 - slot) * half])      # the other half: untouched
    read, read_blob = _blob_stream(data, 4096)
    slots = []
    out = wire.unpack(read, None, read_blob, region, slots)
    assert slots == [slot]
    assert np.array_equal(out["a"], big) and np.array_equal(out["b"][0], big)
    assert np.array_equal(out["c"], other) and np.array_equal(out["small"], np.ones(3))
    assert not np.shares_memory(out["a"], out["b"][0])
    region[:] = b"\xff" * len(region)                       # the region rewritten after the frame
    assert np.array_equal(out["a"], big) and np.array_equal(out["b"][0], big)


@pytest.mark.parametrize("room", [None, 0, 8 * 1024 - 1])
def test_a_blob_said_to_be_in_the_shared_region_must_lie_inside_it(room):
    """The length of a region blob comes from the sender (the submission's process): a region
    blob where there is no region, or reaching past the end of its half, is refused before
    anything is read."""
    body = b'{"v": {"$array": 0, "dtype": "float64", "shape": [1024]}}'
    data = struct.pack(">II", len(body), 1) + body + struct.pack(">Q", (8 * 1024) | wire.IN_REGION)
    region = None if room is None else memoryview(bytearray(2 * room + 1))
    read, read_blob = _blob_stream(data, 4096)
    with pytest.raises(wire.WireError, match="shared region"):
        wire.unpack(read, None, read_blob, region)
    if room is not None:
        half = np.arange(1024.0).tobytes() + b"tail"                            # room enough
        region = memoryview(bytearray(half + half))
        read, read_blob = _blob_stream(data, 4096)
        assert np.array_equal(wire.unpack(read, None, read_blob, region)["v"], np.arange(1024.0))


def test_a_waiter_polls_only_while_the_waits_are_short(monkeypatch):
    """Polling a pipe saves a wake-up when the answer is quick, and burns a core when it is not:
    after a long wait the next one sleeps at once; after a short one it polls again."""
    import os
    import threading
    import time

    polls = []
    real = wire.await_readable
    monkeypatch.setattr(wire, "await_readable", lambda fd, spin=wire.SPIN_S: polls.append(fd) or real(fd, spin))
    r, w = os.pipe()
    try:
        waiter = wire.Waiter(r)
        late = threading.Timer(0.05, os.write, (w, b"x"))   # a long wait: well over SPIN_S
        late.start()
        assert waiter.wait(5.0) is True
        late.join()
        assert polls == [r] and waiter.spin is False          # polled once, then slept
        os.read(r, 1)
        os.write(w, b"y")                                     # already there: a short wait
        assert waiter.wait(5.0) is True
        assert polls == [r] and waiter.spin is True           # not polled, and polls next time
        os.read(r, 1)
        t = time.perf_counter()
        assert waiter.wait(0.01) is False                     # nothing comes: the timeout holds
        assert time.perf_counter() - t >= 0.01 and polls == [r, r] and waiter.spin is False
    finally:
        os.close(r)
        os.close(w)


def test_a_waiter_told_not_to_poll_never_polls(monkeypatch):
    import os
    polls = []
    monkeypatch.setattr(wire, "await_readable", lambda fd, spin=wire.SPIN_S: polls.append(fd) or True)
    r, w = os.pipe()
    try:
        waiter = wire.Waiter(r, poll=False)
        for _ in range(3):
            os.write(w, b"x")                  # short waits, which would turn polling on
            assert waiter.wait(5.0) is True
            os.read(r, 1)
        assert polls == [] and waiter.spin is False
    finally:
        os.close(r)
        os.close(w)
