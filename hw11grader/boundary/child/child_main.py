"""The program that runs inside the submission's child process.

It is copied, with ``wire.py`` (and nothing else), into a private runtime
folder and started as ``python -I child_main.py REQ_FD RESP_FD [REQ_REGION_FD
RESP_REGION_FD]``. It holds no answers and runs no grader-owned experiment:
it loads the submission's code cells and answers requests with plain data -
calls of the submission's functions (one, or a batch in one round trip), and
a few generic operations on objects it keeps for the grader (inspect their
parameters, back-propagate a given cotangent through one, set parameters).
Every loop, loss and verdict is the grader's, in the parent.

Calls arrive and results leave on two dedicated pipes (never stdout or
stderr), their big arrays in two shared memory regions when the grader made
them, and every reply carries the per-run nonce the grader sent first.

What this program calls is bound at start-up, before any submission code
runs: ``os.read``/``os.write``, the random seeders, a private copy of the
builtins, the built-in NotImplementedError and this Python's opcodes (to
recognise a stub, ``_raises_at_once``), and ``wire`` does the same for json,
struct and numpy. So a
submission that patches those in its own process does not change what the
child reads or sends. One that goes further (replaces this program's own
functions, forges frames on the pipes) can only make its own replies
unreadable: the grader validates every reply and charges what it cannot
read to the submission.
"""
import builtins
import linecache
import mmap
import opcode
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

# Bound before any submission code runs (see the module's docstring). The submission's own code
# gets the real builtins module (op_load); this program's functions, defined below, get a copy.
__builtins__ = dict(vars(builtins))
_os_read, _os_readv, _os_write = os.read, os.readv, os.write
_mmap, _memoryview = mmap.mmap, memoryview
_seed_numpy = np.random.seed
_random_state = random.seed.__self__  # the module's Random; its seed() is Python code using builtins,
_seed_random_c = super(random.Random, _random_state).seed  # so seed it as Random.seed does an int


def _seed_random(seed):
    _seed_random_c(seed)
    _random_state.gauss_next = None


_FunctionType = type(_seed_random)
_NotImplementedError = NotImplementedError
_OP = {name: opcode.opmap.get(name, -1) for name in
       ("CACHE", "NOP", "RESUME", "LOAD_GLOBAL", "LOAD_CONST", "PRECALL", "CALL", "RAISE_VARARGS")}
_NOT_PLAIN_CODE = 0x20 | 0x80 | 0x100 | 0x200  # generator, coroutine, iterable coroutine, async generator

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


class PendingSymbol:
    """A symbol as received: a positive real sympy Symbol once ``resolved`` (importing sympy, 0.2 s,
    on the first one). A call of a function that raises NotImplementedError before it can look at
    its arguments (``_raises_at_once``: the template's stubs) gets these instead, and sympy is not
    imported for it."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


def resolved(value, depth=0):
    """``value`` with every PendingSymbol in it (in lists, tuples and dicts) a sympy Symbol."""
    t = type(value)
    if t is PendingSymbol:
        return _sympy().Symbol(value.name, positive=True)
    if depth > wire.MAX_DEPTH + 4:
        return value
    if t is list:
        return [resolved(x, depth + 1) for x in value]
    if t is tuple:
        return tuple(resolved(x, depth + 1) for x in value)
    if t is dict:
        return {k: resolved(x, depth + 1) for k, x in value.items()}
    return value


def _raises_at_once(fn):
    """Whether calling ``fn`` raises the built-in NotImplementedError before anything else: a plain
    function whose body starts with ``raise NotImplementedError``, ``raise NotImplementedError()``
    or ``raise NotImplementedError(<constant>)``, the name not shadowed. Such a call cannot look at
    its arguments (binding them is the same for any value). Anything else, or another bytecode
    than this Python's, is not recognised (and is called as usual)."""
    if type(fn) is not _FunctionType:
        return False
    code, names, built = fn.__code__, fn.__globals__, fn.__builtins__
    if type(names) is not dict or type(built) is not dict or code.co_flags & _NOT_PLAIN_CODE:
        return False        # (a dict subclass could answer a lookup of the name with anything)
    if "NotImplementedError" in names or built.get("NotImplementedError") is not _NotImplementedError:
        return False
    raw, ops = code.co_code, []
    for i in range(0, min(len(raw), 400), 2):
        op = raw[i]
        if op in (_OP["CACHE"], _OP["NOP"], _OP["RESUME"]):
            continue
        ops.append((op, raw[i + 1]))
        if op == _OP["RAISE_VARARGS"] or len(ops) > 6:
            break
    if len(ops) < 2 or ops[0][0] != _OP["LOAD_GLOBAL"] or ops[-1] != (_OP["RAISE_VARARGS"], 1):
        return False
    if (ops[0][1] >> 1) >= len(code.co_names) or code.co_names[ops[0][1] >> 1] != "NotImplementedError":
        return False
    middle = ops[1:-1]
    if not middle:                                          # raise NotImplementedError
        return True
    consts = [op for op in middle if op[0] == _OP["LOAD_CONST"]]
    n = len(consts)
    return n <= 1 and middle == consts + [(_OP["PRECALL"], n), (_OP["CALL"], n)]


# symbols decoded since the last call that used them (a request without any is passed as it came)
SYMBOLS = [0]


def _with_symbols(fn, args, kwargs):
    """The arguments ``fn`` is called with: symbols resolved unless it raises at once."""
    if not SYMBOLS[0] or _raises_at_once(fn):
        return args, kwargs
    return resolved(args), resolved(kwargs)


def from_tag(tag, value):
    if "$array" in tag:
        if tag.get("as") == "torch":
            torch = _torch()
            return torch.from_numpy(value)
        return value
    if "$sym" in tag:
        SYMBOLS[0] += 1
        return PendingSymbol(str(tag["$sym"]))
    if "$generator" in tag:
        return _torch().Generator().manual_seed(int(tag["$generator"]))
    if "$handle" in tag:
        return HANDLES.get(value.number)
    raise wire.WireError("unexpected tag")


def encode_value(v, keep=None):
    """Encode a result; ``keep`` says which part stays in the child as a handle."""
    if keep is True:
        return Handle_(v)
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

# The grader's two shared memory regions, once main() mapped them (``wire.frame_parts``): the
# big arrays of a request are read from the first, those of a reply written into the second, in
# the half (slot) of the request being answered.
REGIONS = [None, None]
SLOT = [0]


class Channel:
    def __init__(self, req_fd, resp_fd):
        self.req_fd = req_fd
        self.resp_fd = resp_fd
        self.nonce = None
        self.waiter = wire.Waiter(req_fd)
        self.buf, self.pos = b"", 0

    def read(self, n):
        """Up to ``n`` bytes, from a buffer filled 1 MB at a time (a frame has many small parts)."""
        if self.pos >= len(self.buf):
            self.waiter.wait()  # (polled first while the waits are short: wire.Waiter)
            self.buf, self.pos = _os_read(self.req_fd, max(n, 1 << 20)), 0
        out = self.buf[self.pos:self.pos + n]
        self.pos += len(out)
        return out

    def read_blob(self, n):
        """A blob of ``n`` bytes; a big one read straight into the bytearray its array keeps."""
        if n < wire.BIG_BLOB:
            return wire.read_exact(self.read, n)
        out, taken = wire.read_blob(n, self.buf[self.pos:self.pos + n],
                                    lambda view: _os_readv(self.req_fd, [view]))
        self.pos += taken
        return out

    def receive(self):
        slot = []
        try:
            return wire.unpack(self.read, from_tag, self.read_blob, REGIONS[0], slot)
        finally:
            SLOT[0] = slot[0] if slot else 0

    def send(self, message):
        message["nonce"] = self.nonce
        parts = pack_reply(message)
        for part in parts if type(parts) is list else [parts]:   # (a frame, or its parts)
            data = memoryview(part)
            while data:
                n = _os_write(self.resp_fd, data)
                data = data[n:]


def pack_reply(message):
    """Encode a reply (a frame in parts): tensors become arrays, kept parts become handles;
    big arrays go into the reply region when there is one and they fit."""

    def hook(enc, v, depth):
        if isinstance(v, Handle_):
            return {"$handle": HANDLES.put(v.obj), "type": type(v.obj).__name__}
        return to_plain(enc, v, depth)

    try:
        return wire.pack_parts(message, hook, REGIONS[1], SLOT[0])
    except Exception as e:  # (encoding a returned value may run the submission's code: its fault)
        return wire.pack_parts({"nonce": message.get("nonce"), "ok": False, "kind": "bad_value",
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

STATE = {"names": None}


def reseed(seed):
    _seed_random(seed)
    _seed_numpy(seed % (2**32))
    if "torch" in sys.modules:  # the CPU generator alone: torch.manual_seed also probes every
        sys.modules["torch"].default_generator.manual_seed(seed)  # accelerator (~0.1-0.6 ms a call)


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
        try:
            reseed(req.get("seed", 0))  # (inside: a cell may have broken what seeding uses)
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


def _target_function(req):
    """The function a request names: a submission name, or a method of a kept object."""
    names = STATE["names"]
    target = req.get("target")
    name = req["name"]
    if target is not None:
        obj = HANDLES.get(target)
        if not hasattr(obj, name):
            return None, {"ok": False, "kind": "missing", "message": f"the object has no attribute {name!r}"}
        fn = getattr(obj, name)
    else:
        if names is None or name not in names:
            return None, {"ok": False, "kind": "missing", "message": f"{name} is not defined"}
        fn = names[name]
    if not callable(fn):
        return None, {"ok": False, "kind": "raised",
                      "message": f"{name} is a {type(fn).__name__}, not a function"}
    return fn, None


def op_call(req):
    fn, refused = _target_function(req)
    if refused:
        return refused
    try:
        args, kwargs = _with_symbols(fn, req.get("args", []), req.get("kwargs", {}))
    except BaseException as e:  # sympy could not be imported: as when a request cannot be decoded
        return {"ok": False, "kind": "bad_request", "message": describe(e)}
    SYMBOLS[0] = 0
    watch = req.get("watch") is True
    try:
        reseed(req["seed"])  # (inside: the submission may have broken what seeding uses)
        before = [_tensor_copies(a) for a in args] if watch else None
        value = fn(*args, **kwargs)
    except BaseException as e:
        return failure(e)
    value = encode_value(value, req.get("keep"))
    if watch:  # did the call change the tensors it was handed? (only this process can see it)
        try:
            mutated = [_changed(a, b) for a, b in zip(args, before)]
        except BaseException as e:
            return failure(e)
        value = {"result": value, "mutated": mutated}
    return {"ok": True, "value": value}


def _tensor_copies(v, depth=0):
    if _is_tensor(v):
        return v.detach().clone()
    if type(v) in (list, tuple) and depth < 4:
        return [_tensor_copies(x, depth + 1) for x in v]
    return None


def _changed(now, before, depth=0):
    if before is None:
        return False
    if _is_tensor(before):
        torch = sys.modules["torch"]
        return not (_is_tensor(now) and now.shape == before.shape
                    and torch.equal(now.detach(), before))
    if type(before) is list and type(now) in (list, tuple) and len(now) == len(before):
        return any(_changed(a, b, depth + 1) for a, b in zip(now, before))
    return True


def op_map(req):
    """Many calls of one function in one round trip (the grader's experiments batch their steps).

    Each call is seeded like a single call; the first one that fails ends the
    request, and its index says which it was.
    """
    for n in req.get("drop") or []:
        HANDLES.objects.pop(n, None)
    fn, refused = _target_function(req)
    if refused:
        return refused
    values = []
    for i, item in enumerate(req.get("calls") or []):
        try:
            args, kwargs = _with_symbols(fn, item.get("args", []), item.get("kwargs", {}))
        except BaseException as e:  # sympy could not be imported: as when a request cannot be decoded
            return {"ok": False, "kind": "bad_request", "message": describe(e)}
        try:
            reseed(req["seed"])
            value = fn(*args, **kwargs)
        except BaseException as e:
            out = failure(e)
            out["index"] = i
            return out
        values.append(encode_value(value, req.get("keep")))
    SYMBOLS[0] = 0
    return {"ok": True, "value": values}


def _is_tensor(v):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(v, torch.Tensor)


def _as_float64(t):
    torch = sys.modules["torch"]
    t = t.detach().cpu()
    if t.is_complex():
        t = t.real
    if t.layout != torch.strided:
        t = t.to_dense()
    return t.to(torch.float64)


def _module_parts(obj):
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(obj, torch.nn.Module):
        return False, [], {}
    return True, list(obj.named_parameters()), dict(obj.named_buffers())


def op_inspect(req):
    """What a kept object is made of: its parameters, buffers and some attributes (plain data)."""
    try:
        obj = HANDLES.get(req["target"])
        reseed(req["seed"])
        is_module, params, buffers = _module_parts(obj)
        torch = sys.modules.get("torch")
        report = {
            "is_module": is_module,
            "parameters": [{"name": str(n), "shape": [int(d) for d in p.shape], "dtype": str(p.dtype),
                            "requires_grad": bool(p.requires_grad), "value": _as_float64(p)}
                           for n, p in params],
            "buffers": sorted(str(n) for n in buffers),
            "attrs": {},
        }
        for name in req.get("attrs") or []:
            try:
                v = getattr(obj, str(name))
            except Exception:
                report["attrs"][name] = {"present": False}
                continue
            t = _is_tensor(v)
            report["attrs"][name] = {
                "present": True, "is_tensor": t,
                "is_parameter": bool(t and isinstance(v, torch.nn.Parameter)),
                "is_buffer": bool(t and any(b is v for b in buffers.values())),
                "requires_grad": bool(v.requires_grad) if t else None,
                "shape": [int(d) for d in v.shape] if t else None,
                "dtype": str(v.dtype) if t else None,
                "value": _as_float64(v) if t else None,
            }
    except BaseException as e:
        return failure(e)
    return {"ok": True, "value": report}


def op_vjp(req):
    """``out = obj(*args)``; with a cotangent of out's shape, ``out.backward(cotangent)``."""
    try:
        obj = HANDLES.get(req["target"])
        reseed(req["seed"])
        args = resolved(req.get("args", [])) if SYMBOLS[0] else req.get("args", [])
        SYMBOLS[0] = 0
        out = obj(*args)
        cot = req.get("cotangent")
        report = {"output": out, "backward": False, "grads": {}}
        if (cot is not None and _is_tensor(out) and out.requires_grad
                and tuple(out.shape) == tuple(cot.shape)):
            _, params, _ = _module_parts(obj)
            trainable = [(n, p) for n, p in params if p.requires_grad]
            for _, p in trainable:
                p.grad = None
            out.backward(cot.to(out.dtype))
            report["grads"] = {str(n): (_as_float64(p.grad) if p.grad is not None else None)
                               for n, p in trainable}
            report["backward"] = True
    except BaseException as e:
        return failure(e)
    return {"ok": True, "value": report}


def op_assign(req):
    """Set named parameters of a kept object in place (no grad, in the parameter's dtype)."""
    try:
        obj = HANDLES.get(req["target"])
        _, params, _ = _module_parts(obj)
        params = dict(params)
        torch = sys.modules.get("torch")
        for name, value in (req.get("values") or {}).items():
            if name not in params:
                return {"ok": False, "kind": "raised", "message": f"the object has no parameter {name!r}"}
            p = params[name]
            with torch.no_grad():
                p.copy_(value.to(p.dtype).reshape(p.shape))
    except BaseException as e:
        return failure(e)
    return {"ok": True, "value": None}


def op_drop(req):
    for n in req.get("handles", []):
        HANDLES.objects.pop(n, None)
    return {"ok": True}


OPS = {"load": op_load, "call": op_call, "map": op_map, "inspect": op_inspect, "vjp": op_vjp,
       "assign": op_assign, "drop": op_drop}


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


def _region(fd, access):
    """The grader's shared region behind ``fd`` (a sealed memfd: it cannot be resized), mapped."""
    size = os.fstat(fd).st_size
    region = _memoryview(_mmap(fd, size, access=access))
    os.close(fd)
    return region


def main():
    req_fd, resp_fd = int(sys.argv[1]), int(sys.argv[2])
    if len(sys.argv) == 5:  # the request region (read here), the reply region (written here)
        REGIONS[:] = [_region(int(sys.argv[3]), mmap.ACCESS_READ), _region(int(sys.argv[4]), mmap.ACCESS_WRITE)]
    # the submission may print; keep stdin closed so it cannot block on input()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    channel = Channel(req_fd, resp_fd)
    hello = channel.receive()
    channel.nonce = hello["nonce"]
    channel.waiter = wire.Waiter(req_fd, hello.get("poll") is not False)
    apply_limits(hello.get("limits") or {})
    reply = {"ok": True, "op": "hello", "schema": wire.SCHEMA, "pid": os.getpid()}
    if type(hello.get("installation")) is str:  # the first child in a jail: does it see the grader?
        reply["installation_visible"] = os.path.exists(hello["installation"])
    channel.send(reply)
    while True:
        try:
            req = channel.receive()
        except (EOFError, OSError):  # the grader is gone, or the submission closed the pipe
            return
        except Exception as e:
            channel.send({"ok": False, "kind": "bad_request", "message": describe(e)})
            continue
        if type(req) is not dict:
            channel.send({"ok": False, "kind": "bad_request", "message": "a request is a dict"})
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
