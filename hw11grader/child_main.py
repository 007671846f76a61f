"""The program that runs inside the submission's child process.

It is copied, with ``wire.py`` and the ``experiments`` package, into a private
runtime folder and started as ``python -I child_main.py REQ_FD RESP_FD``.
It holds no answers: it loads the submission's code cells, answers calls with
plain data, and runs the grader's experiment code with the submission's
functions plugged in. Every verdict is made by the grader, in the parent.

Calls arrive and results leave on two dedicated pipes (never stdout or
stderr), and every reply carries the per-run nonce the grader sent first.
"""
import builtins
import linecache
import os
import random
import sys
import traceback

import numpy as np

if __package__:  # in-process use (the notebook self-check)
    from . import wire
else:  # the child: wire.py lies beside this file in the runtime folder
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import wire

MAX_MESSAGE = 4000
STUDENT_FILES = set()


class NotPlain(Exception):
    pass


# ---------------------------------------------------------------- values

def _torch():
    import torch
    return torch


def _sympy():
    import sympy
    return sympy


def to_plain(enc, v, depth):
    """Encoder hook: tensors -> arrays, sympy -> trees, anything else -> opaque."""
    if type(v) is range:
        if len(v) > 10_000_000:
            raise wire.WireError("range too long")
        return enc.encode(list(v), depth + 1)
    mod = type(v).__module__ or ""
    if mod.startswith("torch") and "torch" in sys.modules:
        torch = sys.modules["torch"]
        if type(v) in (torch.Tensor, torch.nn.Parameter):
            t = v.detach().cpu()
            if t.is_complex():
                raise wire.WireError("complex tensors cannot cross")
            if t.dtype == torch.bfloat16:
                t = t.to(torch.float32)
            if t.is_sparse or t.layout != torch.strided:
                t = t.to_dense()
            return enc.array(t.contiguous().numpy())
    if mod.startswith("sympy") and "sympy" in sys.modules:
        sympy = sys.modules["sympy"]
        if isinstance(v, sympy.Basic):
            try:
                return {"$expr": expr_tree(v, [0])}
            except NotPlain as e:
                return {"$opaque": f"sympy expression with {e}"}
    return {"$opaque": type(v).__name__}


def expr_tree(e, count):
    sympy = sys.modules["sympy"]
    count[0] += 1
    if count[0] > wire.MAX_EXPR_NODES:
        raise NotPlain("too many parts")
    if isinstance(e, sympy.Symbol):
        return ["Symbol", str(e.name)]
    if isinstance(e, sympy.Integer):
        return ["Integer", int(e.p)]
    if isinstance(e, sympy.Rational):
        return ["Rational", [int(e.p), int(e.q)]]
    if isinstance(e, sympy.Float):
        return ["Float", float(e)]
    if e is sympy.E:
        return ["exp", [["Integer", 1]]]
    for kind, cls in (("Add", sympy.Add), ("Mul", sympy.Mul), ("Pow", sympy.Pow),
                      ("log", sympy.log), ("exp", sympy.exp),
                      ("Min", sympy.Min), ("Max", sympy.Max)):
        if isinstance(e, cls):
            return [kind, [expr_tree(a, count) for a in e.args]]
    raise NotPlain(type(e).__name__)


class Handles:
    def __init__(self):
        self.objects = {}
        self.next = 1

    def put(self, obj):
        n = self.next
        self.next += 1
        self.objects[n] = obj
        return n

    def get(self, n):
        if n not in self.objects:
            raise LookupError("that object is gone (the submission's process was restarted)")
        return self.objects[n]


HANDLES = Handles()


def from_tag(tag, value):
    if "$array" in tag:
        if tag.get("as") == "torch":
            torch = _torch()
            return torch.from_numpy(value)
        return value
    if "$sym" in tag:
        return _sympy().Symbol(str(tag["$sym"]), positive=True)
    if "$generator" in tag:
        return _torch().Generator().manual_seed(int(tag["$generator"]))
    if "$handle" in tag:
        return HANDLES.get(value.number)
    raise wire.WireError("unexpected tag")


def encode_value(v, keep=None):
    """Encode a result; ``keep`` says which part stays in the child as a handle."""
    if keep is True:
        return {"$handle": HANDLES.put(v), "type": type(v).__name__}
    if keep and type(v) in (tuple, list):
        parts = []
        for i, x in enumerate(v):
            if i in keep:
                parts.append(Handle_(x))
            else:
                parts.append(x)
        v = tuple(parts) if type(v) is tuple else parts
    return v


class Handle_:
    """Marker for a part of a result to keep (encoded by send())."""

    def __init__(self, obj):
        self.obj = obj


# ---------------------------------------------------------------- channel

class Channel:
    def __init__(self, req_fd, resp_fd):
        self.req_fd = req_fd
        self.resp_fd = resp_fd
        self.nonce = None

    def read(self, n):
        return os.read(self.req_fd, n)

    def receive(self):
        return wire.unpack(self.read, from_tag)

    def send(self, message):
        message["nonce"] = self.nonce
        data = memoryview(pack_reply(message))
        while data:
            n = os.write(self.resp_fd, data)
            data = data[n:]


def pack_reply(message):
    """Encode a reply: tensors become arrays, kept parts become handles."""

    def hook(enc, v, depth):
        if isinstance(v, Handle_):
            return {"$handle": HANDLES.put(v.obj), "type": type(v.obj).__name__}
        return to_plain(enc, v, depth)

    try:
        return wire.pack(message, hook)
    except (wire.WireError, RecursionError, ValueError, TypeError) as e:
        return wire.pack({"nonce": message.get("nonce"), "ok": False, "kind": "bad_value",
                          "message": f"the value could not be sent back: {short(e, 300)}"})


# ---------------------------------------------------------------- errors

def short(text, limit=MAX_MESSAGE):
    text = str(text)
    return text if len(text) <= limit else text[:limit] + " ..."


def describe(exc):
    try:
        msg = str(exc)
    except BaseException:
        msg = "<message could not be shown>"
    name = type(exc).__name__
    return short(f"{name}: {msg}" if msg else name, 1000)


def student_traceback(exc):
    """The traceback trimmed to the submission's own lines (cells named by number)."""
    try:
        frames = traceback.extract_tb(exc.__traceback__)
        own = [f for f in frames if f.filename in STUDENT_FILES]
        lines = []
        for f in own[-8:]:
            where = f.filename if f.filename.startswith("<cell") else os.path.basename(f.filename)
            lines.append(f"  {where}, line {f.lineno}, in {f.name}")
            if f.line:
                lines.append(f"    {f.line.strip()}")
        lines.append(describe(exc))
        return short("\n".join(lines))
    except BaseException:
        return describe(exc)


def _innermost_student_function(exc):
    """``LoRALinear.__init__`` rather than ``__init__`` (qualified names: Python 3.11+)."""
    try:
        name, tb = None, exc.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_filename in STUDENT_FILES:
                name = getattr(code, "co_qualname", code.co_name)
            tb = tb.tb_next
        return name
    except BaseException:
        return None


def failure(exc):
    if isinstance(exc, NotImplementedError):
        return {"ok": False, "kind": "not_implemented", "message": describe(exc),
                "function": _innermost_student_function(exc)}
    if isinstance(exc, SystemExit):
        return {"ok": False, "kind": "raised",
                "message": f"called sys.exit({short(repr(exc.code), 80)})",
                "traceback": student_traceback(exc)}
    return {"ok": False, "kind": "raised", "message": describe(exc),
            "traceback": student_traceback(exc),
            "fatal": isinstance(exc, (MemoryError, RecursionError))}


# ---------------------------------------------------------------- operations

class Namespace:
    """Attribute access to the submission's names, for the experiments."""

    def __init__(self, names):
        self.__dict__["_names"] = names

    def __getattr__(self, name):
        try:
            return self._names[name]
        except KeyError:
            raise MissingName(name) from None


class MissingName(AttributeError):
    pass


STATE = {"names": None}


def reseed(seed):
    random.seed(seed)
    np.random.seed(seed % (2**32))
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def op_load(req):
    names = {"__name__": req.get("module_name", "hw11"), "__builtins__": builtins}
    if req.get("file"):
        names["__file__"] = req["file"]
    STATE["names"] = names
    mod = type(sys)(names["__name__"])
    mod.__dict__.update(names)
    names = mod.__dict__
    STATE["names"] = names
    sys.modules[names["__name__"]] = mod
    cells = []
    for cell in req["cells"]:
        filename = cell["filename"]
        STUDENT_FILES.add(filename)
        source = cell["source"]
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        report = {"name": cell["name"], "status": "ok"}
        try:
            code = compile(source, filename, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError) as e:
            report.update(status="error", message=_syntax_message(e, cell["name"]))
            cells.append(report)
            continue
        reseed(req.get("seed", 0))
        try:
            exec(code, names)
        except BaseException as e:  # a raising cell keeps what it defined
            report.update(status="error", message=failure(e).get("traceback") or describe(e))
        cells.append(report)
    return {"ok": True, "cells": cells, "names": _name_kinds(names),
            "answers": _plain_dict(names, "ANSWERS"), "written": _plain_dict(names, "WRITTEN")}


def _syntax_message(e, cell):
    if isinstance(e, SyntaxError):
        return short(f"SyntaxError in {cell}, line {e.lineno}: {e.msg}", 500)
    return short(f"{type(e).__name__} while compiling {cell}: {e}", 500)


def _name_kinds(names):
    out = {}
    for k, v in list(names.items())[:5000]:
        if type(k) is not str or k.startswith("__"):
            continue
        if isinstance(v, type):
            out[k] = "class"
        elif callable(v):
            out[k] = "function"
        elif type(v).__name__ == "module":
            out[k] = "module"
        else:
            out[k] = "value"
    return out


def _plain_dict(names, key):
    if key not in names:
        return {"present": False}
    v = names[key]
    if type(v) is not dict:
        return {"present": True, "error": f"{key} is a {type(v).__name__}, not a dict"}
    try:
        wire.Encoder(to_plain).encode(v)  # dry run: refuse what cannot cross
    except (wire.WireError, RecursionError, ValueError, TypeError) as e:
        return {"present": True, "error": f"{key} could not be read: {e}"}
    return {"present": True, "value": v}


def op_call(req):
    names = STATE["names"]
    target = req.get("target")
    name = req["name"]
    if target is not None:
        obj = HANDLES.get(target)
        if not hasattr(obj, name):
            return {"ok": False, "kind": "missing", "message": f"the object has no attribute {name!r}"}
        fn = getattr(obj, name)
    else:
        if names is None or name not in names:
            return {"ok": False, "kind": "missing", "message": f"{name} is not defined"}
        fn = names[name]
    if not callable(fn):
        return {"ok": False, "kind": "raised",
                "message": f"{name} is a {type(fn).__name__}, not a function"}
    reseed(req["seed"])
    try:
        value = fn(*req.get("args", []), **req.get("kwargs", {}))
    except BaseException as e:
        return failure(e)
    return {"ok": True, "value": encode_value(value, req.get("keep"))}


def op_scenario(req):
    import importlib
    module, function = req["module"], req["function"]
    if not (module.isidentifier() and function.isidentifier()) or function.startswith("_"):
        return {"ok": False, "kind": "bad_request", "message": "bad scenario name"}
    mod = importlib.import_module("experiments." + module)
    fn = getattr(mod, function)
    reseed(req["seed"])
    try:
        value = fn(Namespace(STATE["names"] or {}), *req.get("args", []), **req.get("kwargs", {}))
    except MissingName as e:
        return {"ok": False, "kind": "missing", "message": f"{e.args[0]} is not defined"}
    except BaseException as e:
        out = failure(e)
        if out["kind"] == "raised":
            out["message"] = "while the grader's experiment ran your code: " + out["message"]
        return out
    return {"ok": True, "value": value}


def op_drop(req):
    for n in req.get("handles", []):
        HANDLES.objects.pop(n, None)
    return {"ok": True}


OPS = {"load": op_load, "call": op_call, "scenario": op_scenario, "drop": op_drop}


def apply_limits(limits):
    """Lower our own limits before any student code runs (soft = hard: no way back up)."""
    import resource
    for name, value in limits.items():
        which = getattr(resource, str(name), None)
        if which is None or type(value) is not int:
            continue
        try:
            soft, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass


def main():
    req_fd, resp_fd = int(sys.argv[1]), int(sys.argv[2])
    # the submission may print; keep stdin closed so it cannot block on input()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    channel = Channel(req_fd, resp_fd)
    hello = channel.receive()
    channel.nonce = hello["nonce"]
    apply_limits(hello.get("limits") or {})
    channel.send({"ok": True, "op": "hello", "schema": wire.SCHEMA, "pid": os.getpid()})
    while True:
        try:
            req = channel.receive()
        except EOFError:
            return
        except (wire.WireError, LookupError, ValueError, TypeError) as e:
            channel.send({"ok": False, "kind": "bad_request", "message": describe(e)})
            continue
        op = OPS.get(req.get("op"))
        if op is None:
            if req.get("op") == "bye":
                return
            channel.send({"ok": False, "kind": "bad_request", "message": "unknown operation"})
            continue
        try:
            reply = op(req)
        except BaseException as e:  # a fault of this program, not of the submission
            reply = {"ok": False, "kind": "child_fault", "message": describe(e)}
        channel.send(reply)
        sys.stdout.flush()
        sys.stderr.flush()


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
