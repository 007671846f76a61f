"""The execution boundary: the submission runs in a child process.

One interface, two variants:

* ``ChildBoundary`` (grading): the submission runs in a child process in its
  own session, in a scratch folder holding only the submission; calls and
  results travel as plain data on two private pipes, each reply stamped
  with a per-run nonce. A call that hangs or kills the child costs only
  that call: the child is killed with its whole process group and started
  again for the next one.
* ``InProcessBoundary`` (the in-notebook self-check): the student's own
  live namespace, in the student's own kernel. Values still make the same
  round trip through the wire format, so checks see exactly the same data.

Once the submission's code has run, the child's process is the
submission's: it may have patched json, struct, numpy, os, sys.modules or
the child program itself, or write on the pipes. So nothing it sends is
trusted: a reply that is truncated, malformed, of the wrong types, says the
child program failed, or does not have the shape its request calls for
(the manifest of a load, a watched call, a batch, an inspection ...) is the
submission's error (``StudentError``, "could not read"), never the
grader's; the child is killed and that function is not called again. Only a
failure to start Python and complete the handshake, before any student
code has run, is the infrastructure's (retried once, then a GraderError).
"""
from __future__ import annotations

import collections
import fcntl
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hw11grader import values
from hw11grader.boundary import cgroup, sandbox
from hw11grader.boundary.child import wire
from hw11grader.loading import LoadError, Submission
from hw11grader.outcomes import Failed, GraderError, Missing, StudentError, StudentTimeout

BOUNDARY_DIR = Path(__file__).resolve().parent
CHILD_DIR = BOUNDARY_DIR / "child"  # the child side: copied whole into the runtime folder
REPO_DIR = BOUNDARY_DIR.parent.parent

JAIL_RUNTIME = "/hw11/runtime"  # where the jail shows the child its program and its scratch folder
JAIL_WORK = "/hw11/work"


@dataclass(frozen=True)
class Limits:
    call_timeout: float = 10.0  # seconds per call (a check may state more)
    load_timeout: float = 60.0  # seconds to load the submission
    start_timeout: float = 30.0  # seconds for Python to start in the child
    submission_timeout: float = 600.0  # wall-clock seconds for a whole grading
    output_cap: int = 64 * 1024  # bytes of the child's stdout/stderr kept
    poll: bool = True  # each side polls the pipes before sleeping (wire.Waiter): off when the cores are all busy
    sandbox: sandbox.SandboxConfig = sandbox.SandboxConfig()


@dataclass
class Manifest:
    """What loading the submission produced (all plain data)."""

    status: str  # "ok" | "error" | "timeout" | "died"
    message: str = ""
    cells: list = field(default_factory=list)
    names: dict = field(default_factory=dict)
    answers: dict = field(default_factory=lambda: {"present": False})
    written: dict = field(default_factory=lambda: {"present": False})


class AsNumpy:
    """Wrap an argument that should arrive as a numpy array, not a tensor."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = np.asarray(array)


def _encode_argument(enc, v, depth):
    if type(v) is AsNumpy:
        return enc.array(v.array, as_="numpy")
    raise wire.WireError(f"the grader cannot send a {type(v).__name__}")


class _ParentEncoder(wire.Encoder):
    """Arrays go to the submission as float64 torch tensors unless wrapped."""

    def __init__(self):
        super().__init__(_encode_argument)
        self._sent = {}  # id(array) -> its record: an array passed to many calls is sent once

    def encode(self, v, depth=0):
        if type(v) is np.ndarray:
            rec = self._sent.get(id(v))
            if rec is None:
                rec = self._sent[id(v)] = (v, self.array(v, as_="torch"))  # (keeps v alive)
            return dict(rec[1])  # each reference still decodes to its own copy
        return super().encode(v, depth)


def pack_request_parts(message: dict, region=None, slot=0) -> list:
    """A request as a frame in parts (``wire.frame_parts``): big arrays as their own memory,
    or copied into half ``slot`` of ``region`` (shared with the child) where they fit."""
    enc = _ParentEncoder()
    tree = enc.encode(message)
    body = json.dumps(tree, separators=(",", ":"), allow_nan=False).encode()
    return wire.frame_parts(body, enc.blobs, region, slot)


def pack_request(message: dict) -> bytes:
    return b"".join(pack_request_parts(message))


# -- how a call is shown in a message ------------------------------------
# Bounded and deterministic: numbers as values.g prints them, arrays by
# shape, dtype and their first entries, never an address or a time.
ENTRIES_SHOWN = 3  # entries of an array shown (all of them when it has at most one more)
ITEMS_SHOWN = 4  # items of a list, tuple or dict
ARGUMENT_CHARS = 120  # one argument
CALL_CHARS = 400  # the whole call


def _clip(text, limit):
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _entries(a):
    flat = a.reshape(-1)
    shown = flat if flat.size <= ENTRIES_SHOWN + 1 else flat[:ENTRIES_SHOWN]
    if a.dtype.kind == "b":
        items = [str(bool(x)) for x in shown]
    elif a.dtype.kind in "iu":
        items = [str(int(x)) for x in shown]
    else:
        items = [values.g(x, 4) for x in shown]
    return ", ".join(items) + (", ..." if flat.size > len(shown) else "")


def summarise_array(a, kind="tensor"):
    """``<4x5 float64 tensor [0.3123, -1.2, 0.05, ...]>``: shape, dtype, the first entries."""
    a = np.asarray(a)
    if a.ndim == 0:
        return f"<0-d {a.dtype.name} {kind} {_entries(a)}>"
    shape = "x".join(str(s) for s in a.shape)
    body = f" [{_entries(a)}]" if a.dtype.kind in "fiub" else ""
    return f"<{shape} {a.dtype.name} {kind}{body}>"


def summarise(value, depth=0):
    """One argument, as a message shows it (values the grader sends: plain data)."""
    t = type(value)
    if value is None or t is bool or t is int:
        return repr(value)
    if t is float or (isinstance(value, np.generic) and value.dtype.kind == "f"):
        return values.g(value)
    if isinstance(value, np.generic):
        return repr(value.item())
    if t is str:
        return repr(_clip(value, 40))
    if t is np.ndarray:
        return summarise_array(value, "tensor")  # arrays reach the submission as torch tensors
    if t is AsNumpy:
        return summarise_array(value.array, "array")
    if t is wire.Symbol:
        return str(value.name)
    if t is wire.Generator:
        return f"Generator(seed={value.seed})"
    if t is wire.Handle:
        return f"<{value.type_name} object>"
    if t in (list, tuple, dict):
        if depth >= 2:
            return f"<{t.__name__} of {len(value)}>"
        if t is dict:
            parts = [f"{summarise(k, depth + 1)}: {summarise(v, depth + 1)}"
                     for k, v in list(value.items())[:ITEMS_SHOWN]]
        else:
            parts = [summarise(v, depth + 1) for v in value[:ITEMS_SHOWN]]
        if len(value) > ITEMS_SHOWN:
            parts.append(f"... ({len(value)} in all)")
        inner = ", ".join(parts) + ("," if t is tuple and len(value) == 1 else "")
        opening, closing = {list: "[]", tuple: "()", dict: "{}"}[t]
        return _clip(f"{opening}{inner}{closing}", ARGUMENT_CHARS)
    return f"<{t.__name__}>"


class _Shown:
    """``describe_call(name, args, kwargs) + suffix``, made only when a message shows it (a call
    that succeeds never is: describing its arrays would cost 15 us a call). Messages are made
    while the call is answered, before the grader changes any array it sent."""

    __slots__ = ("parts", "text")

    def __init__(self, name, args=(), kwargs=None, suffix=""):
        self.parts, self.text = (name, args, kwargs, suffix), None

    def __str__(self):
        if self.text is None:
            name, args, kwargs, suffix = self.parts
            self.text, self.parts = describe_call(name, args, kwargs) + suffix, None
        return self.text

    def __format__(self, spec):
        return format(str(self), spec)


def describe_call(name, args=(), kwargs=None):
    """``magnitude_prune(<4x5 float64 tensor [...]>, 0.02)``: the call, its arguments summarised."""
    shown = [_clip(summarise(a), ARGUMENT_CHARS) for a in args]
    shown += [f"{k}={_clip(summarise(v), ARGUMENT_CHARS)}" for k, v in (kwargs or {}).items()]
    inner = ", ".join(shown)
    room = CALL_CHARS - len(name) - 2
    return f"{name}({_clip(inner, room)})"


UNREADABLE = ("your process sent back something the grader could not read ({detail}). This happens when "
              "code changes json, struct, numpy, os, sys.modules or the grader's own functions in the "
              "process it runs in, or writes on its pipes")
STUDENT_KINDS = ("missing", "not_implemented", "raised", "bad_value")  # what a child's failed reply may say


def unreadable(detail) -> str:
    return UNREADABLE.format(detail=_clip(str(detail), 300))


def _envelope_problem(reply):
    """Why ``reply`` is not a reply the child program sends (None when it is one)."""
    if type(reply) is not dict:
        return f"a {type(reply).__name__} where a reply is a dict"
    ok = reply.get("ok")
    if ok is True:
        return None
    if ok is not False:
        return "a reply that says neither ok nor failed"
    kind = reply.get("kind")
    if type(kind) is not str or kind not in STUDENT_KINDS:
        message = reply.get("message")
        said = f": {_clip(message, 200)}" if type(message) is str and message else ""
        return f"a reply of kind {_clip(repr(kind), 60)}{said}"
    return None


def interpret(reply: dict, what: str, call: str | None = None):
    """Turn a reply into its value, or raise the outcome it describes.

    ``what`` names the function (enough for NotImplementedError); ``call``
    shows the call with its arguments, for the messages of a call that raised
    or sent back something wrong (default: ``what``).
    """
    call = call or what
    problem = _envelope_problem(reply)
    if problem is not None:
        raise StudentError(f"{call}: {unreadable(problem)}", fatal=True)
    if reply["ok"] is True:
        return reply.get("value")
    kind = reply.get("kind")
    message = reply.get("message", "")
    message = (message if type(message) is str else str(message))[:4000]
    if kind == "missing":
        raise Missing(message, fatal=True)
    if kind == "not_implemented":
        function = reply.get("function")
        if (isinstance(function, str) and len(function) < 200
                and all(part.isidentifier() for part in function.split(".")) and function not in what):
            raise Missing(f"{function} raises NotImplementedError (not implemented yet; "
                          f"{what} needs it)", fatal=True)
        raise Missing(f"{what} raises NotImplementedError (not implemented yet)", fatal=True)
    if kind == "raised":
        tb = reply.get("traceback")
        # the trimmed traceback is worth showing only when it has the student's own lines
        has_frames = isinstance(tb, str) and ", line " in tb
        detail = f"\n{tb}" if has_frames else ""
        raise StudentError(f"{call} raised {message}{detail}", fatal=reply.get("fatal") is True)
    if kind == "bad_value":
        raise Failed(f"{call}: {message}")
    raise StudentError(f"{call}: {unreadable(f'a reply of kind {kind!r}')}", fatal=True)  # (not reached)


# -- what a reply's value must look like ----------------------------------
# Each ``*_problem`` function says why a value is not what the child program sends for that
# request (None when it is): the shapes below are exactly those of child_main's operations.

def _is_handle(v):
    return type(v) is wire.Handle


def _handle_inside(value):
    """Whether a Handle is anywhere in ``value`` (decoded data: lists, tuples, dicts)."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is wire.Handle:
            return True
        if t is list or t is tuple:
            stack.extend(v)
        elif t is dict:
            stack.extend(v.values())
    return False


def _kept_problem(value, keep):
    """Handles exactly where ``keep`` asked for them (child_main.encode_value)."""
    if keep is True:
        return None if _is_handle(value) else "no kept object where one was asked for"
    if keep and type(value) in (list, tuple):
        for i, x in enumerate(value):
            if i in keep:
                if not _is_handle(x):
                    return "no kept object where one was asked for"
            elif _handle_inside(x):
                return "a kept object where none was asked for"
        return None
    return "a kept object where none was asked for" if _handle_inside(value) else None


def _call_problem(value, keep, watch, nargs):
    if not watch:
        return _kept_problem(value, keep)
    if type(value) is not dict or "result" not in value:
        return "a watched call without its result"
    mutated = value.get("mutated")
    if type(mutated) is not list or len(mutated) != nargs or any(type(m) is not bool for m in mutated):
        return "a watched call without one changed-or-not answer per argument"
    return _kept_problem(value["result"], keep)


def _map_problem(value, ncalls, keep):
    if type(value) is not list or len(value) != ncalls:
        return f"not a list of {ncalls} results for {ncalls} calls"
    for v in value:
        problem = _kept_problem(v, keep)
        if problem is not None:
            return problem
    return None


def _shape_ok(shape):
    return type(shape) is list and len(shape) <= 32 and all(type(n) is int and n >= 0 for n in shape)


def _float_array_ok(value, shape):
    return (type(value) is np.ndarray and value.dtype == np.float64
            and list(value.shape) == shape)


def _inspect_problem(value, attrs):
    bad = "an inspection of the wrong shape"
    if (type(value) is not dict or type(value.get("is_module")) is not bool
            or type(value.get("parameters")) is not list or type(value.get("buffers")) is not list
            or type(value.get("attrs")) is not dict):
        return bad
    for p in value["parameters"]:
        if (type(p) is not dict or type(p.get("name")) is not str or not _shape_ok(p.get("shape"))
                or type(p.get("dtype")) is not str or type(p.get("requires_grad")) is not bool
                or not _float_array_ok(p.get("value"), p["shape"])):
            return bad
    if any(type(b) is not str for b in value["buffers"]):
        return bad
    if set(value["attrs"]) != set(attrs):
        return bad
    for a in value["attrs"].values():
        if type(a) is not dict or type(a.get("present")) is not bool:
            return bad
        if not a["present"]:
            continue
        if any(type(a.get(k)) is not bool for k in ("is_tensor", "is_parameter", "is_buffer")):
            return bad
        if a["is_tensor"]:
            if (type(a.get("requires_grad")) is not bool or not _shape_ok(a.get("shape"))
                    or type(a.get("dtype")) is not str or not _float_array_ok(a.get("value"), a["shape"])):
                return bad
        elif any(a.get(k) is not None for k in ("requires_grad", "shape", "dtype", "value")):
            return bad
    return None


def _vjp_problem(value):
    bad = "a forward/backward report of the wrong shape"
    if (type(value) is not dict or "output" not in value or type(value.get("backward")) is not bool
            or type(value.get("grads")) is not dict):
        return bad
    for g in value["grads"].values():
        if g is not None and not (type(g) is np.ndarray and g.dtype == np.float64):
            return bad
    if _handle_inside(value["output"]):
        return "a kept object where none was asked for"
    return None


CELL_STATUSES = ("ok", "error")
NAME_KINDS = ("class", "function", "module", "value")


def _plain_dict_problem(d, key):
    """child_main._plain_dict: {"present": False} | {"present": True, "value": dict} | {..., "error": str}."""
    if type(d) is not dict or type(d.get("present")) is not bool:
        return f"{key} of the wrong shape"
    if not d["present"]:
        return None
    if "value" in d:
        if type(d["value"]) is not dict:
            return f"{key} of the wrong shape"
        if _handle_inside(d["value"]):
            return f"a kept object in {key}"
        return None
    if type(d.get("error")) is not str:
        return f"{key} of the wrong shape"
    return None


def _manifest_problem(reply):
    """Why the reply to loading is not one child_main.op_load sends (None when it is)."""
    cells, names = reply.get("cells"), reply.get("names")
    if type(cells) is not list:
        return "the report of the cells is not a list"
    for c in cells:
        if (type(c) is not dict or type(c.get("name")) is not str or c.get("status") not in CELL_STATUSES
                or type(c.get("status")) is not str
                or ("message" in c and type(c["message"]) is not str)):
            return "a cell's report of the wrong shape"
    if type(names) is not dict or any(type(k) is not str or type(v) is not str or v not in NAME_KINDS
                                      for k, v in names.items()):
        return "the names it defined are of the wrong shape"
    for key in ("answers", "written"):
        problem = _plain_dict_problem(reply.get(key), key.upper())
        if problem is not None:
            return problem
    return None


class _Drain(threading.Thread):
    """Reads a child's stdout or stderr, keeping only the first bytes."""

    def __init__(self, stream, cap):
        super().__init__(daemon=True)
        self.stream, self.cap = stream, cap
        self.kept = bytearray()
        self.dropped = 0

    def run(self):
        try:
            while True:
                chunk = self.stream.read1(1 << 16) if hasattr(self.stream, "read1") else self.stream.read(1 << 16)
                if not chunk:
                    break
                room = self.cap - len(self.kept)
                if room > 0:
                    self.kept += chunk[:room]
                self.dropped += max(0, len(chunk) - max(room, 0))
        except (OSError, ValueError):
            pass

    def text(self):
        t = self.kept.decode("utf-8", "replace")
        if self.dropped:
            t += f"\n[... {self.dropped} more bytes of output dropped]"
        return t


class _FrameReader:
    def __init__(self, fd, region=None, poll=True):
        self.fd = fd
        self.waiter = wire.Waiter(fd, poll)
        self.region = region  # the child's reply region (read-only here), or None
        self.buf = bytearray()
        self.pos = 0  # bytes of buf already consumed (dropped in one go, never per read)

    def _wait(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            # the deadline passed while the grader was busy elsewhere (its imports while the
            # submission loaded, its half of a pipelined step): what has arrived by now was in
            # time for all the grader can tell - its own slowness is never the submission's
            if wire.await_readable(self.fd, 0):
                return
            raise TimeoutError
        if not self.waiter.wait(remaining):  # (polled first while the waits are short)
            raise TimeoutError

    def read_frame(self, deadline, from_tag):
        def read(n):
            while len(self.buf) - self.pos < n:
                if self.pos:
                    del self.buf[:self.pos]
                    self.pos = 0
                self._wait(deadline)
                chunk = os.read(self.fd, 1 << 20)
                if not chunk:
                    raise EOFError
                self.buf += chunk
            out = bytes(self.buf[self.pos:self.pos + n])
            self.pos += n
            return out

        def read_blob(n):
            """A big blob straight into the bytearray its array will keep (no copies on the way)."""
            if n < wire.BIG_BLOB:
                return read(n)
            def read_into(view):
                self._wait(deadline)
                return os.readv(self.fd, [view])

            out, taken = wire.read_blob(n, self.buf[self.pos:self.pos + n], read_into)
            self.pos += taken
            return out

        return wire.unpack(read, from_tag, read_blob, self.region)


@dataclass
class _Ticket:
    """A request sent to the child and not answered yet: when its time is up, the half (``slot``)
    of the shared regions it and its reply use, the process it was sent to, and how it is shown."""
    deadline: float
    timeout: float
    slot: int
    generation: int
    call: str


SETTLE_S = 2.0  # how long an abandoned request may still take before its process is killed


def _exit_description(code):
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        extra = " (out of memory?)" if name == "SIGKILL" else ""
        return f"it was killed by {name}{extra}"
    return f"it exited with code {code} (sys.exit or os._exit?)"


class _Requests:
    """The requests both boundaries answer; ``_op`` sends one and returns its reply's value."""

    def call(self, name, args=(), kwargs=None, *, seed, timeout=None, keep=None, target=None, watch=False):
        """``watch=True``: the value is ``{"result", "mutated"}``, ``mutated`` saying per argument
        whether the call changed the tensors it was handed."""
        key = name if target is None else f"{target.type_name}.{name}"
        request = {"op": "call", "name": name, "args": list(args), "kwargs": dict(kwargs or {}),
                   "seed": seed, "keep": keep, "watch": bool(watch)}
        if target is not None:
            request["target"] = self._handle_number(target)
        shown = _Shown(key, args, kwargs)
        value = self._op(key, key, shown, request, timeout)
        return self._checked(key, shown, value, _call_problem(value, keep, bool(watch), len(request["args"])))

    def map(self, name, calls, *, seed, timeout=None, keep=None, drop=()):
        """``[name(*args, **kwargs) for args, kwargs in calls]`` in one round trip.

        The first call that fails raises its outcome, with that call shown.
        ``drop``: kept objects to forget first (the child's memory stays bounded).
        """
        calls, request, shown = self._map_request(name, calls, seed, keep, drop)
        reply = self._op(name, name, shown, request, timeout, raw=True)
        return self._map_value(name, calls, shown, keep, reply)

    def map_start(self, name, calls, *, seed, timeout=None, keep=None, drop=()):
        """``map``, sent now and read by ``map_finish(pending)``: the grader works meanwhile.

        Maps started are finished in the order they were started, at most two
        at a time; the child answers them in that order, so the submission
        sees exactly the calls, in exactly the order, of ``map`` one after
        the other. Any other request first ends the maps not finished (their
        results are dropped). Here: the map runs now, its outcome is kept.
        """
        try:
            return True, self.map(name, calls, seed=seed, timeout=timeout, keep=keep, drop=drop)
        except Exception as e:  # raised by map_finish, where a child's reply would be read
            return False, e

    def map_finish(self, pending):
        ok, value = pending
        if not ok:
            raise value
        return value

    def settle(self):
        """Drop what is still in flight (nothing, here)."""

    def _map_request(self, name, calls, seed, keep, drop):
        calls = [(tuple(a), dict(k or {})) for a, k in calls]
        request = {"op": "map", "name": name, "seed": seed, "keep": keep,
                   "calls": [{"args": list(a), "kwargs": k} for a, k in calls],
                   "drop": [self._handle_number(h) for h in drop if self._live(h)]}
        more = f" (and {len(calls) - 1} more calls)" if len(calls) > 1 else ""
        shown = _Shown(name, *calls[0], suffix=more) if calls else f"{name}()"
        return calls, request, shown

    def _map_value(self, name, calls, shown, keep, reply):
        if reply.get("ok") is not True and type(reply.get("index")) is int and 0 <= reply["index"] < len(calls):
            shown = describe_call(name, *calls[reply["index"]])
        value = interpret(reply, name, shown)
        return self._checked(name, shown, value, _map_problem(value, len(calls), keep))

    def _object_op(self, op, handle, fields, seed, timeout, shown, problem):
        key = f"{handle.type_name}.{op}"
        request = {"op": op, "target": self._handle_number(handle), "seed": seed, **fields}
        value = self._op(key, key, shown, request, timeout)
        return self._checked(key, shown, value, problem(value))

    def inspect(self, handle, attrs=(), *, seed, timeout=None):
        """The parameters, buffers and the named attributes of a kept object, as plain data."""
        attrs = [str(a) for a in attrs]
        return self._object_op("inspect", handle, {"attrs": attrs}, seed, timeout,
                               f"inspecting your {handle.type_name}", lambda v: _inspect_problem(v, attrs))

    def vjp(self, handle, args, cotangent, *, seed, timeout=None):
        """``out = obj(*args)``, back-propagated with ``cotangent`` when given (see child_main)."""
        return self._object_op("vjp", handle, {"args": list(args), "cotangent": cotangent}, seed, timeout,
                               describe_call(handle.type_name, args), _vjp_problem)

    def assign(self, handle, values, *, seed, timeout=None):
        """Set named parameters of a kept object."""
        return self._object_op("assign", handle, {"values": dict(values)}, seed, timeout,
                               f"setting the parameters of your {handle.type_name}",
                               lambda v: None if v is None else "a value where none is sent back")

    def _checked(self, key, call, value, problem):
        """``value``, or (``problem`` says why it is not what the request calls for) the student's error."""
        if problem is None:
            return value
        error = StudentError(f"{call}: {unreadable(problem)}", fatal=True)
        self._distrust(key, error)
        raise error

    def _distrust(self, key, error):
        """A reply could not be read: what the boundary does about the process that sent it."""

    def drop(self, handles, *, timeout=None):
        numbers = [self._handle_number(h) for h in handles if self._live(h)]
        if numbers:
            self._op("drop", "drop", "drop", {"op": "drop", "handles": numbers}, timeout)


class ChildBoundary(_Requests):
    """The submission in a child process (the only way grading runs it)."""

    def __init__(self, submission: Submission, limits: Limits = Limits()):
        self.submission = submission
        self.limits = limits
        self.deadline = time.monotonic() + limits.submission_timeout
        # (as root, whether the jail works may be unknown: the first child finds out, before it is
        # sent any student code, and is started again outside the jail if it does not: _start_python)
        self.plan = sandbox.plan(limits.sandbox, sys.executable, settled=False)
        self.proc = None
        self.req_region = None  # the shared region requests' big arrays are written into
        self.inflight = collections.deque()  # _Ticket of each request sent and not yet answered
        self.generation = 0
        self.disabled: dict[str, Exception] = {}
        self.manifest: Manifest | None = None
        self.loading = None  # (deadline, a failure while sending) once begin() sent the load
        self.starts = 0
        self._set_up()

    # -- set-up ---------------------------------------------------------
    def _set_up(self):
        """What the plan's mode needs before a child is started: a slot (the jail's uid), the
        installation's file modes (setpriv), the scratch folders."""
        self.mode = self.plan.mode  # (what this set-up is for, if the plan changes when settled)
        self.slot = sandbox.Slot() if self.mode == "jail" else None
        self.user = (self.slot.uid, self.slot.gid) if self.slot else self.plan.user
        if self.mode == "setpriv":
            sandbox.protect_installation(keep=self.plan.environment)
        self.group = None
        if self.plan.groups:
            try:
                self.group = cgroup.ChildGroup(self.limits.sandbox.address_space_mb * 2**20, self.plan.groups)
            except OSError as e:
                self.plan.lose_groups(f"making one failed: {e.strerror or e}")
        self.oom_kills = 0
        self.tmp = Path(tempfile.mkdtemp(prefix="hw11-"))
        self.runtime = self.tmp / "runtime"
        self.work = self.tmp / "work"
        self._prepare_folders()

    def _prepare_folders(self):
        self.runtime.mkdir()
        self.work.mkdir()
        for source in sorted(CHILD_DIR.glob("*.py")):  # the whole child folder, nothing else
            shutil.copy2(source, self.runtime / source.name)
        try:  # read as data again (never through a link, bounded), not copied by path
            from hw11grader.loading import read_submission
            (self.work / self.submission.path.name).write_bytes(read_submission(self.submission.path))
        except (OSError, LoadError):
            pass
        sandbox.prepare_folders(self.tmp, self.runtime, self.work, self.user)
        if self.slot is not None:
            (self.tmp / "root").mkdir(mode=0o700)
            config = {"root": str(self.tmp / "root"), "environment": self.plan.jail["environment"],
                      "runtime": str(self.runtime), "work": str(self.work),
                      "tmp_size": sandbox.JAIL_TMP_SIZE, "shm_size": sandbox.JAIL_SHM_SIZE,
                      "work_size": sandbox.JAIL_WORK_SIZE,
                      "uid": self.slot.uid, "gid": self.slot.gid, "cwd": JAIL_WORK,
                      "argv": None, "env": self._environment(),
                      "cgroup_procs": self.group.procs if self.group else []}
            self.jail_config = config

    def _environment(self):
        jailed = self.slot is not None
        env = {
            "PATH": "/usr/bin:/bin" if jailed else os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": JAIL_WORK if jailed else str(self.work), "TMPDIR": "/tmp" if jailed else str(self.work),
            "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg",
        }
        for keep in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "VIRTUAL_ENV"):
            if keep in os.environ:
                env[keep] = os.environ[keep]
        return env

    def _spawn(self):
        req_r, req_w = _big_pipe()
        resp_r, resp_w = _big_pipe()
        os.set_blocking(req_w, False)  # a write never outlasts its deadline (see _write_all)
        regions = _shared_regions()
        fds = (req_r, resp_w) + tuple(fd for fd, _ in regions)
        if self.slot is not None:  # the jail builds the child's world, then execs the child
            config = dict(self.jail_config, argv=[sys.executable, "-s", f"{JAIL_RUNTIME}/child_main.py",
                                                  *map(str, fds)])
            config_path = self.tmp / "jail.json"
            fd = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(config, f)
            command = sandbox.jail_command(self.plan.jail["unshare"], sys.executable, config_path)
            cwd = self.tmp
        else:
            command = [*self.plan.prefix, sys.executable, "-s", str(self.runtime / "child_main.py"),
                       *map(str, fds)]
            if self.group is not None:  # joins its cgroups, then becomes the rest of the command
                join = ('n=$0; while [ "$n" -gt 0 ]; do echo $$ 2>/dev/null > "$1" || '
                        f'{{ echo "hw11: {cgroup.JOIN_FAILED}: $1" >&2; exit 111; }}; shift; n=$((n-1)); done; '
                        'exec "$@"')
                command = ["/bin/sh", "-c", join, str(len(self.group.procs)), *self.group.procs, *command]
            cwd = self.work
        try:
            self.proc = subprocess.Popen(
                command, cwd=cwd, env=self._environment(), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=fds,
                start_new_session=True,
            )
        finally:
            for fd in fds:
                os.close(fd)
        self.req_w, self.resp_r = req_w, resp_r
        # the mappings outlive the closed descriptors; what the child writes in the reply region is
        # copied out before it is read (wire.unpack), and a sealed size never moves under us
        self.req_region = memoryview(regions[0][1]) if regions else None
        self.reader = _FrameReader(resp_r, memoryview(regions[1][1]) if regions else None, self.limits.poll)
        self.drains = [_Drain(self.proc.stdout, self.limits.output_cap),
                       _Drain(self.proc.stderr, self.limits.output_cap)]
        for d in self.drains:
            d.start()
        self.generation += 1
        self.starts += 1
        self.nonce = secrets.token_hex(16)

    def begin(self):
        """Start the child and send it the submission to load, without waiting for the load.

        The grader imports its checks and reference meanwhile, so the
        submission's own imports (torch) overlap the grader's. The load's time
        limit runs from here: it is the submission's loading that is timed.
        Called by ``start`` when not called before.
        """
        if getattr(self, "loading", None) is not None:
            return
        self._start_python()
        timeout = self.limits.load_timeout
        deadline = time.monotonic() + timeout
        self.loading = (deadline, None)
        try:
            self._send(self._load_request(), deadline, timeout, "loading the submission")
        except (StudentError, StudentTimeout) as e:
            self.loading = (deadline, e)

    def loaded(self) -> bool:
        """Whether waiting for the load is over: its reply has arrived (or been read: ``start``), or
        sending it failed; True before ``begin``, when there is no load to wait for."""
        if self.manifest is not None or getattr(self, "loading", None) is None or self.loading[1] is not None:
            return True
        try:
            return wire.await_readable(self.reader.fd, 0)
        except (OSError, ValueError):  # the pipe is gone: nothing more to wait for
            return True

    def start(self) -> Manifest:
        """Start the child (``begin``) and load the submission; the manifest says how it went."""
        self.begin()
        deadline, failed = self.loading
        try:
            if failed is not None:
                raise failed
            reply = self._receive(deadline, self.limits.load_timeout, "loading the submission")
        except StudentTimeout:
            self.manifest = Manifest("timeout", f"loading the submission took longer than {self.limits.load_timeout:g} s")
            return self.manifest
        except StudentError as e:
            self.manifest = Manifest("died", e.message)
            return self.manifest
        # the submission's code has run: a failed or malformed reply is its doing, never the grader's
        problem = _envelope_problem(reply)
        if problem is None and reply.get("ok") is not True:
            problem = f"a reply that says loading failed ({_clip(str(reply.get('message', '')), 200)})"
        if problem is None:
            problem = _manifest_problem(reply)
        if problem is not None:
            self._kill()
            self.manifest = Manifest("died", f"loading the submission: {unreadable(problem)}")
            return self.manifest
        self.manifest = Manifest(
            "ok", cells=reply.get("cells", []), names=reply.get("names", {}),
            answers=reply.get("answers", {"present": False}), written=reply.get("written", {"present": False}),
        )
        return self.manifest

    def _start_python(self, attempts=2):
        """Start the child program up to its handshake (no student code has run yet).

        A failure here is the infrastructure's, never the student's: it is
        retried once, then reported as a grader error. As root, while nobody
        knows yet whether the jail works here (``Plan.unsettled``), this child
        finds out: it must complete its handshake in the jail and not see the
        grader's installation, else the plan falls back (file modes, the
        sandbox user) and the child is started again outside the jail.
        """
        attempt = 0
        while attempt < attempts:
            if self.mode != self.plan.mode:  # the plan fell back since the set-up: redo it for the new mode
                self._tear_down()
                self._set_up()
            probing = self.plan.unsettled is not None  # this child finds out whether the jail works
            try:
                self._spawn()
                reply = self._roundtrip(self._hello(probing), self.limits.start_timeout, "starting Python")
            except (StudentError, StudentTimeout) as e:
                self._kill()
                failure = e.message
                said = (self.drains[1].text().strip().splitlines() or [failure])[-1]
                if self.group is not None and cgroup.JOIN_FAILED in said:
                    # the cgroups' fault, not the jail's: no groups, and a start that does not count
                    self.plan.lose_groups(_clip(said, 200))
                    self._tear_down()
                    self._set_up()
                    continue
                if probing:  # the jail does not work here: the fallback, and a start that does not count
                    self.plan.settle(f"a child could not start in it: {_clip(said, 200)}")
                else:
                    attempt += 1
                continue
            if probing and reply.get("installation_visible") is not False:
                self._kill()
                self.plan.settle("the grader's installation is visible in it")
                continue
            if probing:
                self.plan.settle("")  # it works: the jail, for this child and every later one
            return
        raise GraderError(f"the child process could not be started ({attempts} attempts): {failure}")

    def _hello(self, probing=False):
        hello = {"op": "hello", "nonce": self.nonce, "limits": self.limits.sandbox.rlimits(),
                 "poll": self.limits.poll}
        if probing:  # (the path as the grader sees it: the jail must not show it)
            hello["installation"] = str(sandbox.MUST_NOT_SEE)
        return hello

    def _load_request(self):
        return {"op": "load", "module_name": self.submission.module_name,
                "file": self.submission.path.name, "seed": 0,
                "cells": [{"name": c.name, "filename": c.filename, "source": c.source}
                          for c in self.submission.cells]}

    def _restart(self):
        self._start_python()
        self._roundtrip(self._load_request(), self.limits.load_timeout, "reloading the submission")

    # -- calls ----------------------------------------------------------
    def _unavailable(self):
        m = self.manifest
        if m is None:
            raise GraderError("the submission was not started")
        if m.status == "timeout":
            raise StudentTimeout(m.message)
        if m.status == "died":
            raise StudentError(f"the submission could not be loaded: {m.message}")

    def _live(self, handle):
        return handle.generation == self.generation and self.proc is not None

    def _handle_number(self, handle):
        if handle.generation != self.generation or self.proc is None:
            raise StudentError("that object was lost when the submission's process was restarted")
        return handle.number

    def _op(self, key, what, call, request, timeout, raw=False):
        """``what`` names the function, ``call`` shows the call with its arguments (for messages)."""
        if self.inflight:
            self._settle()
        timeout = self._ready(key, timeout)
        reply = self._answered(key, call, lambda: self._roundtrip(request, timeout, call))
        return reply if raw else interpret(reply, what, call)

    def _answered(self, key, call, exchange):
        """The reply ``exchange()`` reads, with a readable envelope; what goes wrong (the
        submission's process failed, or forged the reply) is fatal for ``key``."""
        try:
            reply = exchange()
            problem = _envelope_problem(reply)
            if problem is not None:  # (a child program that failed, or a forged reply: the same to us)
                self._kill()
                raise StudentError(f"{call}: {unreadable(problem)}")
        except (StudentTimeout, StudentError) as e:
            e.fatal = True
            self.disabled[key] = e
            raise
        return reply

    def _ready(self, key, timeout):
        """Whether ``key`` may be called now (a process to call it in, time left): its time limit."""
        self._unavailable()
        if key in self.disabled:
            earlier = self.disabled[key]
            raise type(earlier)(earlier.message, fatal=True)
        remaining = self.deadline - time.monotonic()
        if remaining <= 1:
            raise StudentTimeout(f"the time limit for grading one submission "
                                 f"({self.limits.submission_timeout:g} s) was reached", fatal=True)
        if self.proc is None:
            try:
                self._restart()
            except (StudentError, StudentTimeout) as e:
                raise StudentError(f"the submission's process could not be restarted: {e.message}") from None
        return min(timeout or self.limits.call_timeout, self.deadline - time.monotonic())

    def map_start(self, name, calls, *, seed, timeout=None, keep=None, drop=()):
        calls, request, shown = self._map_request(name, calls, seed, keep, drop)
        return self._start(name, shown, request, timeout), name, calls, shown, keep

    def map_finish(self, pending):
        ticket, name, calls, shown, keep = pending
        return self._map_value(name, calls, shown, keep, self._finish(ticket, name, shown))

    def _start(self, key, call, request, timeout):
        """Send a request with up to one other in flight; ``_finish`` reads its reply."""
        if len(self.inflight) >= 2:
            raise RuntimeError("more than two requests in flight")
        timeout = self._ready(key, timeout)
        deadline = time.monotonic() + timeout
        slot = 1 if self.inflight and self.inflight[0].slot == 0 else 0
        # the child answers in order: a process found dead (or stuck) now died in (or is stuck
        # in) the oldest request not yet answered, so that is the one a failure names
        what = self.inflight[0].call if self.inflight else call
        try:
            self._send(request, deadline, timeout, what, slot)
        except (StudentTimeout, StudentError) as e:
            e.fatal = True
            self.disabled[key] = e
            raise
        ticket = _Ticket(deadline, timeout, slot, self.generation, call)
        self.inflight.append(ticket)
        return ticket

    def _finish(self, ticket, key, call):
        """The reply to the oldest request ``_start`` sent and not yet finished: ``ticket``'s."""
        if not self.inflight or self.inflight[0] is not ticket or ticket.generation != self.generation:
            raise RuntimeError("replies read out of order, twice, or after their process was gone")
        self.inflight.popleft()
        return self._answered(key, call, lambda: self._receive(ticket.deadline, ticket.timeout, call))

    def settle(self):
        """Read and drop the replies to requests whose results nobody will read (an experiment
        that stopped at an earlier failure): a little while each, then the process is killed (it
        is started again for the next request). Nothing of this is charged to anyone."""
        self._settle()

    def _settle(self):
        while self.inflight:
            ticket = self.inflight.popleft()
            deadline = min(ticket.deadline, time.monotonic() + SETTLE_S)
            try:
                self._receive(deadline, SETTLE_S, "a request whose result was no longer needed")
            except (StudentTimeout, StudentError):
                self._kill()  # (already done by the failure itself; inflight is empty now)
                return

    def _distrust(self, key, error):
        self._kill()
        self.disabled[key] = error

    def _from_tag(self, tag, value):
        if isinstance(value, wire.Handle):
            value.generation = self.generation
            return value
        return value

    def _roundtrip(self, request, timeout, what):
        deadline = time.monotonic() + timeout
        self._send(request, deadline, timeout, what)
        return self._receive(deadline, timeout, what)

    def _send(self, request, deadline, timeout, what, slot=0):
        try:
            data = pack_request_parts(request, self.req_region, slot)
        except wire.WireError as e:
            raise GraderError(f"cannot send {what}: {e}") from None
        self._guarded(lambda: _write_all(self.req_w, data, deadline), timeout, what)

    def _receive(self, deadline, timeout, what):
        reply = self._guarded(lambda: self.reader.read_frame(deadline, self._from_tag), timeout, what)
        if type(reply) is not dict or type(reply.get("nonce")) is not str or reply["nonce"] != self.nonce:
            self._kill()
            raise StudentError(f"during {what} the submission wrote on the grader's private channel")
        return reply

    def _death(self, code):
        """Why the child died (``code``: its exit status), as the student is told: its memory
        cgroup's count of out-of-memory kills tells one from any other SIGKILL."""
        if self.group is not None:
            kills = self.group.oom_kills()
            if kills > self.oom_kills:
                self.oom_kills = kills
                return (f"it was killed for using more memory than its limit "
                        f"({self.limits.sandbox.address_space_mb} MB for all its processes together)")
        return _exit_description(code)

    def _guarded(self, step, timeout, what):
        """One step of talking to the child; what goes wrong is charged to the submission's process."""
        try:
            return step()
        except TimeoutError:
            self._kill()
            raise StudentTimeout(f"{what} did not finish within {timeout:g} s") from None
        except (EOFError, OSError):
            code = self._kill()
            raise StudentError(f"the submission's process died during {what}: {self._death(code)}") from None
        except wire.WireError as e:
            self._kill()
            raise StudentError(f"{what} sent back something that is not plain data ({e})") from None
        except Exception as e:  # whatever else decoding those bytes met: they are the submission's
            self._kill()
            raise StudentError(f"{what}: {unreadable(type(e).__name__)}") from None

    # -- teardown -------------------------------------------------------
    def _kill(self):
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        for fd in (self.req_w, self.resp_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.req_region = self.reader.region = None  # (unmapped once unreferenced)
        self.inflight.clear()
        sandbox.kill_orphans()
        for d in self.drains:
            d.join(timeout=1)
        return code

    def output(self) -> str:
        return "".join(d.text() for d in getattr(self, "drains", []))

    def close(self):
        self._kill()
        self._tear_down()

    def _tear_down(self):
        """Undo ``_set_up`` (the child is gone)."""
        if self.mode == "setpriv" and self.user is not None:
            sandbox.remove_leftovers(self.user[0])
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.group is not None:
            self.group.remove()
            self.group = None
        if self.slot is not None:  # only once the child and its files are gone
            self.slot.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _write_all(fd, parts, deadline):
    """Write a frame's parts to the child's non-blocking pipe, within the deadline."""
    for part in parts:
        view = memoryview(part)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            _, ready, _ = select.select([], [fd], [], remaining)
            if not ready:
                raise TimeoutError
            try:
                n = os.write(fd, view)
            except BlockingIOError:
                continue
            view = view[n:]


# Pipes to and from the child this big (Linux; the default is 64 KiB): a step of an experiment
# sends megabytes, and each pipe-full is a switch between the two processes.
PIPE_BYTES = 1 << 20


def _big_pipe():
    r, w = os.pipe()
    if hasattr(fcntl, "F_SETPIPE_SZ"):
        try:
            fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:  # above the machine's limit: the default size works, only slower
            pass
    return r, w


# The two shared regions (requests, replies) of a child: a big array of a frame that fits goes
# there (one copy in, one copy out) instead of through a pipe (two copies and a switch between
# the processes per pipe-full). One Q4 MLP step sends 7 MB and gets 3.5 MB back. Only the pages
# a frame touches are ever allocated.
REGION_BYTES = 32 << 20  # (two halves of 16 MiB)


def _shared_regions():
    """``[(fd, mmap) for requests, (fd, mmap) for replies]``, or ``[]`` where there is no memfd.

    Each is a memfd sealed at its size (``F_SEAL_SHRINK | F_SEAL_GROW``):
    the child, which holds the descriptor, can write its pages but never
    shrink it under a mapping of ours (which would SIGBUS the grader). The
    reply region is mapped read-only here.
    """
    if not (hasattr(os, "memfd_create") and hasattr(fcntl, "F_ADD_SEALS")):
        return []
    import mmap

    regions = []
    try:
        for access in (mmap.ACCESS_WRITE, mmap.ACCESS_READ):
            fd = os.memfd_create("hw11-wire", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
            regions.append((fd, None))
            os.ftruncate(fd, REGION_BYTES)
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
            regions[-1] = (fd, mmap.mmap(fd, REGION_BYTES, access=access))
    except OSError:  # no memfd here: the pipes carry everything, only slower
        for fd, _ in regions:
            os.close(fd)
        return []
    return regions


class InProcessBoundary(_Requests):
    """The student's live namespace, in their own kernel (self-check only).

    Used by ``grader.check()`` inside a notebook, where the student's code is
    already running in the student's own process: only public checks run,
    and values make the same wire round trip as in grading. There are no
    time limits here: the student can interrupt their own kernel.
    """

    def __init__(self, names: dict, label: str = "notebook"):
        from hw11grader.boundary.child import child_main

        self.child = child_main
        self.names = names
        self.label = label
        self.generation = 1
        self.manifest = None

    def start(self) -> Manifest:
        c = self.child
        c.STATE["names"] = self.names
        reply = self._through_wire({"ok": True, "names": c._name_kinds(self.names),
                                    "answers": c._plain_dict(self.names, "ANSWERS"),
                                    "written": c._plain_dict(self.names, "WRITTEN")})
        self.manifest = Manifest("ok", names=reply["names"], answers=reply["answers"], written=reply["written"])
        return self.manifest

    def _through_wire(self, reply):
        data = b"".join(self.child.pack_reply(reply))
        view = memoryview(data)
        pos = [0]

        def read(n):
            out = bytes(view[pos[0]: pos[0] + n])
            pos[0] += n
            return out

        return wire.unpack(read, lambda tag, v: v)

    def _request(self, request):
        data = pack_request(request)
        pos = [0]

        def read(n):
            out = data[pos[0]: pos[0] + n]
            pos[0] += n
            return out

        return wire.unpack(read, self.child.from_tag)

    def _handle_number(self, handle):
        return handle.number

    def _live(self, handle):
        return True

    def _op(self, key, what, call, request, timeout, raw=False):
        self.child.STATE["names"] = self.names
        reply = self._through_wire(self.child.OPS[request["op"]](self._request(request)))
        return reply if raw else interpret(reply, what, call)

    def output(self) -> str:
        return ""

    def close(self):
        self.child.HANDLES.objects.clear()
