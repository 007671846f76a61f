"""Grader-owned experiments that call the submission's functions (or the reference's).

They run in the GRADER's process (trusted code, numpy only: the grading
process never imports torch), never in the process that runs student code.
The submission is reached only through ``lab``, the first argument of every
public experiment function: a ``hw11grader.boundary.lab.Lab`` that sends each call
across the boundary to the submission's child process (or, for the
reference cache and the in-notebook self-check, to a namespace in this
process, through the very same wire conversions). So nothing a submission
does inside its own process can change an experiment except through the
values its functions return, and every loop, loss, gradient of a
grader-owned model and measurement below is computed here.

The ``lab`` protocol (every method may raise the engine's outcomes -
a student error, a timeout, a missing name - which end the experiment):

    lab.call(name, *args, keep=None, **kwargs)   one call of a student function
    lab.map(name, calls, keep=None, drop=())     many calls of one function in ONE
                                                 round trip; ``calls`` is a list of
                                                 ``(args_tuple, kwargs_dict)``;
                                                 returns the list of results and
                                                 raises at the first failing call
    lab.map_start(name, calls, keep=None, drop=())  the same map, sent now: the grader
    lab.map_finish(pending)                      works while the submission does, and
                                                 reads the results later; maps are
                                                 finished in the order they were
                                                 started, at most two at a time, so
                                                 the submission sees the same calls
                                                 in the same order as with ``map``
    lab.method(handle, name, *args, **kwargs)    a method of an object kept in the child
    lab.inspect(handle, attrs)                   what the child sees of a kept object
    lab.vjp(handle, args, cotangent)             ``out = obj(*args)``, back-propagated
                                                 with ``cotangent``: output and the
                                                 gradients of its trainable parameters
    lab.assign(handle, values)                   set named parameters of a kept object
    lab.drop(handles)                            forget kept objects

Arguments are numpy arrays (float64; they reach the student's function as
float64 torch tensors, fresh copies per call), Python numbers, lists, tuples,
dicts and handles. ``keep=True`` keeps the whole result in the child and
returns a handle; ``keep=[i, ...]`` keeps those items of a returned
tuple/list. Results come back as plain data: tensors as numpy arrays (in the
dtype the submission returned), lists, tuples, dicts, numbers; anything else
as ``wire.Opaque``.

A returned value that cannot be used (wrong shape, not an array ...) raises
``BadValue``: it is charged to the submission. Any other exception raised
here is a bug of the grader and is reported as a grader error.

Every public experiment function returns plain data (dicts / lists of Python
floats, ints, bools, str, None; ``float('nan')`` / ``float('inf')`` allowed).
Everything is deterministic: fixed seeds (numpy ``Generator``s), fixed batch
order, float64.

Modules:
    q4_batch        learning-rate x batch-size sweeps (Q4)
    q7_sensitivity  per-layer magnitude-pruning sensitivity (Q7a)
    q1_lora         LoRA scenarios (Q1)

This file holds the small helpers the three modules share.
"""
import numpy as np

F64 = np.float64


class BadValue(ValueError):
    """A value returned by the submission that the experiment cannot use (the submission's fault)."""


def rng(seed):
    """A numpy Generator seeded with ``seed`` (PCG64: the same stream on every machine)."""
    return np.random.Generator(np.random.PCG64(int(seed)))


def _numeric(a):
    return a.dtype.kind in "fiub"


def as_f64(value, what="value"):
    """A returned array-like as a fresh float64 numpy array (BadValue if it is not one)."""
    if isinstance(value, np.ndarray):
        if not _numeric(value):
            raise BadValue(f"{what}: expected numbers, got an array of {value.dtype}")
        return value.astype(F64, copy=True)
    if isinstance(value, (bool, int, float)):
        return np.asarray(float(value), dtype=F64)
    if isinstance(value, (list, tuple)) and value:
        parts = [as_f64(v, what) for v in value]
        if len({p.shape for p in parts}) != 1:
            raise BadValue(f"{what}: expected an array, got a ragged list")
        return np.stack(parts)
    raise BadValue(f"{what}: expected a tensor, an array or nested lists of numbers, "
                   f"got {_type_name(value)}")


def _type_name(value):
    name = type(value).__name__
    if name == "Opaque":
        return getattr(value, "type_name", "an object that cannot be sent back")
    return name


def _same_up_to_ones(a, b):
    return [n for n in a if n != 1] == [n for n in b if n != 1]


def as_f64_like(value, like_shape, what="result"):
    """``as_f64(value)`` checked against ``like_shape`` (up to size-1 dimensions)."""
    t = as_f64(value, what)
    shape = tuple(like_shape.shape) if hasattr(like_shape, "shape") else tuple(like_shape)
    if t.shape != shape:
        if not _same_up_to_ones(t.shape, shape):
            raise BadValue(f"{what}: expected shape {shape}, got {t.shape}")
        t = t.reshape(shape)
    return t


def as_f64_list(values, like, what="result"):
    """A returned list of arrays, converted and checked against ``like``'s shapes.

    ``like`` is the list of arrays (or shapes) that was passed in. A list or
    tuple is accepted, and a single array when exactly one was expected.
    Shapes must match, up to size-1 dimensions.
    """
    shapes = [tuple(x.shape) if hasattr(x, "shape") else tuple(x) for x in like]
    if isinstance(values, np.ndarray):
        if len(shapes) == 1 and _same_up_to_ones(values.shape, shapes[0]):
            values = [values]
    if not isinstance(values, (list, tuple)):
        raise BadValue(f"{what}: expected a list of {len(shapes)} tensors, got {_type_name(values)}")
    if len(values) != len(shapes):
        raise BadValue(f"{what}: expected a list of {len(shapes)} tensors, got {len(values)}")
    return [as_f64_like(v, s, f"{what}[{i}]") for i, (v, s) in enumerate(zip(values, shapes))]


def pair(value, what):
    """A returned 2-tuple/list (BadValue otherwise)."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise BadValue(f"{what} must return a pair, got {_type_name(value)}")
    return value[0], value[1]


def nested(a):
    """An array as nested Python lists of floats."""
    return np.asarray(a, dtype=F64).tolist()
