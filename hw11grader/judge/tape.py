"""Recorded expectations: how the student kit checks without any reference code.

The full grader's checks ask the reference for expected values
(``ref.chinchilla_optimal(...)``, ``ref.answers()["q1a"]``, ``cache.load(...)``).
When the kit is built, the public checks are run against known submissions
(a correct one and each known mistake) with every reference module replaced by
a *recorder*: each call a check makes, with its arguments, and what came back
are written to a tape. In the kit, ``reference`` is a *tape*: the same call with
the same arguments (Hypothesis is derandomized, so a check draws the same
inputs) gets the recorded value back; a call that was never recorded raises
``TapeMiss`` (a failing student's check then reports the failure it already
found: shrinking stops at the first recorded input).

What the tape holds, and how:

* numbers, strings, arrays (dtype + shape + bytes), lists, tuples, dicts: as
  data; of a dict only the keys some public check read;
* symbolic answers: never the expression, only its values at the seeded
  comparison points of the check that compares it (``symbolic.compare``);
* in the answer key (``answers()``), strings, booleans and the entries of
  lists as salted hashes: a student can test a guess against them, which is
  what the public check does anyway, but cannot read them;
* sympy symbols by name; reference functions (e.g. tables of known mistakes)
  by name, called through the tape like any other.

This module holds no answers: it is the machinery on both sides.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
import threading

TAPE_SCHEMA = 1
ANSWER_KEY_FUNCTIONS = ("answers",)  # their results are the answer key: choices are hashed


class TapeMiss(Exception):
    """The kit has no recorded expectation for this call (its input was never drawn by a correct run)."""

    def __init__(self, call: str):
        super().__init__(call)
        self.call = call


class Unrecordable(Exception):
    """A value the tape cannot hold as plain data (the builder refuses and says which)."""


# ---------------------------------------------------------------- values seen in the kit

class HashedValue:
    """A choice of the answer key, as a salted hash: equal to a guess only if the guess is right."""

    __slots__ = ("salt", "digest")

    def __init__(self, salt: str, digest: str):
        self.salt, self.digest = salt, digest

    def matches(self, guess) -> bool:
        try:
            return salted_digest(self.salt, guess) == self.digest
        except Unrecordable:
            return False

    def __eq__(self, other):
        if isinstance(other, HashedValue):
            return self.digest == other.digest
        return self.matches(other)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(self.digest)

    def __repr__(self):
        return "<the recorded answer>"

    __str__ = __repr__


class TapedExpression:
    """A symbolic answer in the kit: only its values at the comparison points."""

    __slots__ = ("token", "tape")

    def __init__(self, token: str, tape):
        self.token, self.tape = token, tape

    def values_for(self, key: str, ranges: dict):
        found = self.tape.points.get(points_key(self.token, key, ranges))
        if found is None:
            raise TapeMiss(f"the symbolic answer compared as {key!r}")
        return found

    def __repr__(self):
        return "<the recorded expression>"


def salted_digest(salt: str, value) -> str:
    return hashlib.sha256((salt + "\0" + _canonical(value)).encode()).hexdigest()


def _canonical(value) -> str:
    if isinstance(value, bool):
        return "bool:" + str(value)
    if isinstance(value, int):
        return "int:" + str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return "int:" + str(int(value))
    if isinstance(value, str):
        return "str:" + value.strip()
    raise Unrecordable(f"a {type(value).__name__} cannot be compared with a hashed answer")


def points_key(token: str, key: str, ranges: dict) -> str:
    shown = json.dumps(sorted((k, [float(lo), float(hi)]) for k, (lo, hi) in ranges.items()))
    return f"{token}|{key}|{shown}"


# ---------------------------------------------------------------- encoding

def _sympy():
    import sys
    return sys.modules.get("sympy")


def expression_token(expr) -> str:
    sympy = _sympy()
    return hashlib.sha256(sympy.srepr(expr).encode()).hexdigest()[:24]


class Encoder:
    """Values -> JSON-able trees (recording side). ``answer_key``: hash choices."""

    def __init__(self, recorder=None, seed=""):
        self.recorder = recorder
        self.seed = seed
        self.count = 0

    def _hashed(self, v):
        self.count += 1  # a salt per entry: equal answers do not show as equal hashes
        salt = hashlib.sha256(f"{self.seed}:{self.count}".encode()).hexdigest()[:16]
        return {"$h": salted_digest(salt, v), "salt": salt}

    def encode(self, v, *, answer_key=False, inside=False, depth=0):
        import numpy as np

        if depth > 60:
            raise Unrecordable("nested too deeply")
        kw = {"answer_key": answer_key, "depth": depth + 1}
        if answer_key and (type(v) in (bool, str) or (inside and type(v) is int)):
            return self._hashed(v)
        if v is None or type(v) in (bool, int, str):
            return v
        if type(v) is float:
            return v if math.isfinite(v) else {"$f": repr(v)}
        if isinstance(v, dict):  # dicts (Tracked ones: only the keys read); values are not "inside"
            keys = v.read_keys() if isinstance(v, Tracked) else list(v)
            return {"$d": [[self.encode(k, depth=depth + 1), self.encode(dict.__getitem__(v, k), **kw)]
                           for k in keys]}
        if type(v) is list:
            return [self.encode(x, inside=True, **kw) for x in v]
        if type(v) is tuple:
            return {"$t": [self.encode(x, inside=True, **kw) for x in v]}
        if isinstance(v, np.ndarray):
            if v.dtype == object:
                raise Unrecordable("an object array")
            a = np.ascontiguousarray(v)
            return {"$a": a.dtype.str, "s": list(a.shape), "b": base64.b64encode(a.tobytes()).decode()}
        if isinstance(v, np.generic):
            return {"$n": v.dtype.str, "v": self.encode(v.item(), depth=depth + 1)}
        if isinstance(v, (RecordingFunction, TapeFunction)):
            return {"$fn": [v.module, v.name]}
        if isinstance(v, TapeSymbol):
            return {"$sym": v.name, "assumptions": v.assumptions}
        if isinstance(v, TapedExpression):
            return {"$expr": v.token}
        sympy = _sympy()
        if sympy is not None and isinstance(v, sympy.Basic):
            if isinstance(v, sympy.Symbol):
                return {"$sym": v.name, "assumptions": sorted((k, bool(x)) for k, x in v.assumptions0.items()
                                                              if x is not None)}
            token = expression_token(v)
            if self.recorder is not None:
                self.recorder.expressions[token] = v
            return {"$expr": token}
        module = getattr(v, "__module__", "") or ""
        if callable(v) and module.startswith("reference.") and "." not in getattr(v, "__qualname__", "."):
            return {"$fn": [module.split(".", 1)[1], v.__qualname__]}
        raise Unrecordable(f"a {type(v).__module__}.{type(v).__name__}")


def decode(tree, tape):
    import numpy as np

    if isinstance(tree, list):
        return [decode(x, tape) for x in tree]
    if not isinstance(tree, dict):
        return tree
    if "$t" in tree:
        return tuple(decode(x, tape) for x in tree["$t"])
    if "$d" in tree:
        return {_hashable(decode(k, tape)): decode(x, tape) for k, x in tree["$d"]}
    if "$a" in tree:
        data = base64.b64decode(tree["b"])
        return np.frombuffer(data, dtype=np.dtype(tree["$a"])).reshape(tree["s"]).copy()
    if "$n" in tree:
        return np.dtype(tree["$n"]).type(decode(tree["v"], tape))
    if "$f" in tree:
        return float(tree["$f"])
    if "$h" in tree:
        return HashedValue(tree["salt"], tree["$h"])
    if "$expr" in tree:
        return TapedExpression(tree["$expr"], tape)
    if "$sym" in tree:
        return symbol(tree["$sym"], tree.get("assumptions", []))
    if "$fn" in tree:
        return TapeFunction(tree["$fn"][0], tree["$fn"][1], tape)
    raise ValueError(f"unknown tape tag in {sorted(tree)}")


def _hashable(k):
    return tuple(k) if isinstance(k, list) else k


class TapeSymbol:
    """Only where sympy is unavailable (it is in the pinned environment)."""

    def __init__(self, name, assumptions):
        self.name, self.assumptions = name, assumptions


def symbol(name, assumptions):
    try:
        import sympy
    except ImportError:
        return TapeSymbol(name, assumptions)
    return sympy.Symbol(name, **dict(assumptions))


def call_key(module: str, name: str, args, kwargs) -> str:
    """The tape's key of a call: the function and a digest of its arguments, as data."""
    enc = Encoder()
    try:
        body = json.dumps([enc.encode(list(args)), enc.encode(dict(sorted(kwargs.items())))],
                          separators=(",", ":"))
    except Unrecordable as e:
        raise Unrecordable(f"an argument of {module}.{name}: {e}") from None
    return f"{module}.{name}:{hashlib.sha256(body.encode()).hexdigest()[:32]}"


def describe_call(name, args, kwargs) -> str:
    from hw11grader.values import show
    parts = [show(a) for a in args] + [f"{k}={show(v)}" for k, v in kwargs.items()]
    text = f"{name}({', '.join(parts)})"
    return text if len(text) <= 300 else text[:297] + "..."


# ---------------------------------------------------------------- recording (kit build only)

class Tracked(dict):
    """A dict result whose read keys are remembered (only those go on the tape)."""

    def _init_tracking(self):
        self.__dict__.setdefault("_read", set())
        self.__dict__.setdefault("_all", False)

    def read_keys(self):
        self._init_tracking()
        return [k for k in dict.keys(self) if self._all or k in self._read]

    def _mark(self, key):
        self._init_tracking()
        self._read.add(key)

    def _mark_all(self):
        self._init_tracking()
        self._all = True

    def __getitem__(self, key):
        self._mark(key)
        return dict.__getitem__(self, key)

    def get(self, key, default=None):
        self._mark(key)
        return dict.get(self, key, default)

    def __contains__(self, key):
        self._mark(key)
        return dict.__contains__(self, key)

    def __iter__(self):
        self._mark_all()
        return dict.__iter__(self)

    def keys(self):
        self._mark_all()
        return dict.keys(self)

    def values(self):
        self._mark_all()
        return dict.values(self)

    def items(self):
        self._mark_all()
        return dict.items(self)

    def __len__(self):
        self._mark_all()
        return dict.__len__(self)

    def copy(self):
        self._mark_all()
        return dict(self)


def _tracked(value, recorder=None):
    """Dicts (at any depth of lists, tuples and dicts) become Tracked, and reference functions
    inside a value (tables of known mistakes) recording functions; the rest is unchanged."""
    if type(value) is dict or isinstance(value, Tracked):
        return Tracked({k: _tracked(v, recorder) for k, v in dict.items(value)})
    if type(value) is list:
        return [_tracked(v, recorder) for v in value]
    if type(value) is tuple:
        return tuple(_tracked(v, recorder) for v in value)
    module = getattr(value, "__module__", None) or ""
    if recorder is not None and callable(value) and not isinstance(value, type) and \
            module.startswith("reference.") and "." not in getattr(value, "__qualname__", "."):
        return RecordingFunction(module.split(".", 1)[1], value.__qualname__, value, recorder)
    return value


class Recorder:
    """Collects every call the checks make to the reference, and symbolic answers' point values."""

    def __init__(self, salt_seed="hw11"):
        self.calls = {}  # key -> [module, name, result object(s)]
        self.expressions = {}  # token -> sympy expression (recording side only)
        self.points = {}  # points_key -> values at the comparison points
        self.salt_seed = salt_seed
        self.local = threading.local()
        self.problems = []
        self.kinds = {}  # module -> {attribute: "function" | "value"} the checks used

    def record(self, module, name, args, kwargs, result):
        try:
            key = call_key(module, name, args, kwargs)
        except Unrecordable as e:
            self.problems.append(str(e))
            return result
        result = _tracked(result, self)
        self._register_expressions(result, 0)
        self.calls.setdefault(key, [module, name, []])[2].append(result)
        return result

    def _register_expressions(self, value, depth):
        """Symbolic answers among a result: their point values are recorded when a check compares them."""
        if depth > 60:
            return
        if isinstance(value, dict):
            for v in dict.values(value):
                self._register_expressions(v, depth + 1)
        elif isinstance(value, (list, tuple)):
            for v in value:
                self._register_expressions(v, depth + 1)
        else:
            sympy = _sympy()
            if sympy is not None and isinstance(value, sympy.Basic) and not isinstance(value, sympy.Symbol):
                self.expressions[expression_token(value)] = value

    def depth(self):
        return getattr(self.local, "depth", 0)

    def tape(self) -> dict:
        calls = {}
        for key, (module, name, results) in sorted(self.calls.items()):
            enc = Encoder(self, seed=f"{self.salt_seed}:{key}")
            answer_key = name in ANSWER_KEY_FUNCTIONS
            try:
                encoded = [enc.encode(r, answer_key=answer_key) for r in results]
            except Unrecordable as e:
                self.problems.append(f"{module}.{name} returned {e}")
                continue
            merged = encoded[0]
            for other in encoded[1:]:
                merged = _merge(merged, other)
            calls[key] = merged
        kinds = {m: dict(sorted(k.items())) for m, k in sorted(self.kinds.items())}
        return {"schema": TAPE_SCHEMA, "kinds": kinds, "calls": calls, "points": dict(sorted(self.points.items()))}


def _merge(a, b):
    """Two recordings of one call: the same value, with the dict keys either read."""
    if isinstance(a, dict) and isinstance(b, dict) and "$d" in a and "$d" in b:
        seen = {json.dumps(k): [k, v] for k, v in a["$d"]}
        for k, v in b["$d"]:
            kk = json.dumps(k)
            seen[kk] = [k, _merge(seen[kk][1], v)] if kk in seen else [k, v]
        return {"$d": list(seen.values())}
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [_merge(x, y) for x, y in zip(a, b)]
    if isinstance(a, dict) and isinstance(b, dict) and "$t" in a and "$t" in b and len(a["$t"]) == len(b["$t"]):
        return {"$t": [_merge(x, y) for x, y in zip(a["$t"], b["$t"])]}
    return a


RECORDER: Recorder | None = None  # set only in the kit builder's recording process


class RecordingFunction:
    def __init__(self, module, name, real, recorder):
        self.module, self.name, self.real, self.recorder = module, name, real, recorder
        self.__name__ = self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        rec = self.recorder
        outer = rec.depth() == 0
        rec.local.depth = rec.depth() + 1
        try:
            result = self.real(*args, **kwargs)
        finally:
            rec.local.depth -= 1
        if not outer:  # the reference calling itself: only the checks' calls are recorded
            return result
        return rec.record(self.module, self.name, args, kwargs, result)


class RecordingModule:
    """Stands for ``reference.<name>`` while the kit's tape is recorded."""

    def __init__(self, name, real, recorder):
        self.__dict__.update(_name=name, _real=real, _recorder=recorder)
        self.__dict__["__name__"] = f"reference.{name}"

    def __getattr__(self, attr):
        value = getattr(self._real, attr)
        if attr.startswith("__"):
            return value
        kinds = self._recorder.kinds.setdefault(self._name, {})
        if callable(value) and not isinstance(value, type):
            kinds[attr] = "function"
            return RecordingFunction(self._name, attr, value, self._recorder)
        kinds[attr] = "value"
        if self._recorder.depth():
            return value
        return self._recorder.record(self._name, attr, (), {"$attribute": True}, value)


def install_recorder(recorder: Recorder, module_names):
    """Put recorders in place of the reference modules (before the checks are imported)."""
    import importlib
    import sys

    global RECORDER
    RECORDER = recorder
    package = importlib.import_module("reference")
    for name in module_names:
        real = importlib.import_module(f"reference.{name}")
        proxy = RecordingModule(name, real, recorder)
        sys.modules[f"reference.{name}"] = proxy
        setattr(package, name, proxy)


def record_points(expected, key, ranges, values):
    """Called by ``symbolic.compare`` while recording: a symbolic answer's values at its points."""
    if RECORDER is None:
        return
    sympy = _sympy()
    if sympy is None or not isinstance(expected, sympy.Basic):
        return
    token = expression_token(expected)
    if token in RECORDER.expressions:  # an answer from the reference (not one a check built)
        RECORDER.points[points_key(token, key, ranges)] = values


# ---------------------------------------------------------------- replay (in the kit)

class Tape:
    def __init__(self, data: dict):
        if data.get("schema") != TAPE_SCHEMA:
            raise ValueError("this kit's recorded expectations have another format: rebuild the kit")
        self.calls = data["calls"]
        self.points = data["points"]
        self.kinds = data["kinds"]
        self.cache = {}

    def lookup(self, module, name, args, kwargs):
        key = call_key(module, name, args, kwargs)
        if key not in self.calls:
            shown = name if kwargs == {"$attribute": True} else describe_call(name, args, kwargs)
            raise TapeMiss(f"{module}.{shown}")
        if key not in self.cache:
            self.cache[key] = decode(self.calls[key], self)
        return _copy(self.cache[key])


def _copy(value):
    import numpy as np
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value) is list:
        return [_copy(v) for v in value]
    if type(value) is dict:
        return {k: _copy(v) for k, v in value.items()}
    if type(value) is tuple:
        return tuple(_copy(v) for v in value)
    return value


class TapeFunction:
    def __init__(self, module, name, tape):
        self.module, self.name, self.tape = module, name, tape
        self.__name__ = self.__qualname__ = name

    def __call__(self, *args, **kwargs):
        return self.tape.lookup(self.module, self.name, args, kwargs)


class TapeModule:
    """``reference.<name>`` in the kit: recorded values, no code."""

    def __init__(self, name, tape, kinds):
        self.__dict__.update(_name=name, _tape=tape, _kinds=kinds)
        self.__dict__["__name__"] = f"reference.{name}"

    def __getattr__(self, attr):
        kind = self._kinds.get(attr)
        if kind == "function":
            return TapeFunction(self._name, attr, self._tape)
        if kind == "value":
            return self._tape.lookup(self._name, attr, (), {"$attribute": True})
        raise AttributeError(f"the student kit records nothing for reference.{self._name}.{attr}")
