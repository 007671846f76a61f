"""Grader-owned experiments that run the submission's functions (or the reference's).

Runs inside the child process (and, for the reference, in the grader). Holds no
answers: it only builds data, trains, and measures. Imports stdlib, numpy and
torch only.

Every public experiment function takes ``ns`` first - any object whose
attributes are named like the student API (``ns.sgd_update``,
``ns.magnitude_prune``, ``ns.LoRALinear`` ...) - and returns plain data
(dicts / lists of Python floats, ints, bools, str, None), JSON-serialisable
(``float('nan')`` / ``float('inf')`` allowed). Everything is deterministic:
fixed seeds, fixed batch order, float64, one torch thread.

Modules:
    q4_batch        learning-rate x batch-size sweeps (Q4)
    q7_sensitivity  per-layer magnitude-pruning sensitivity (Q7a)
    q1_lora         LoRA scenarios (Q1)

This file holds the small helpers the three modules share.
"""
import contextlib
import random

import numpy as np
import torch

F64 = torch.float64


@contextlib.contextmanager
def controlled(seed=0):
    """Run a block with one torch thread, grad mode on and seeded global RNGs.

    The global random states of ``torch``, ``numpy`` and ``random`` are seeded
    with ``seed`` (so a submission that draws from them inside the block, e.g.
    in ``LoRALinear.__init__``, is deterministic) and restored afterwards, as is
    the number of torch threads.
    """
    threads = torch.get_num_threads()
    py_state = random.getstate()
    np_state = np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed % (2 ** 32))
        random.seed(seed)
        torch.set_num_threads(1)
        try:
            with torch.enable_grad():
                yield
        finally:
            torch.set_num_threads(threads)
            random.setstate(py_state)
            np.random.set_state(np_state)


def as_f64(value, what="value"):
    """A submission's array-like result as a detached float64 torch tensor."""
    if isinstance(value, torch.Tensor):
        return value.detach().to(F64)
    try:
        return torch.as_tensor(np.asarray(value, dtype=np.float64), dtype=F64)
    except (TypeError, ValueError, RuntimeError):
        pass
    if isinstance(value, (list, tuple)) and value:
        return torch.stack([as_f64(v, what) for v in value])
    raise TypeError(f"{what}: expected a tensor, an array or nested lists of numbers, "
                    f"got {type(value).__name__}")


def _same_up_to_ones(a, b):
    return [n for n in a if n != 1] == [n for n in b if n != 1]


def as_f64_like(value, like, what="result"):
    """``as_f64(value)`` checked against ``like``'s shape (up to size-1 dimensions)."""
    t = as_f64(value, what)
    if tuple(t.shape) != tuple(like.shape):
        if not _same_up_to_ones(tuple(t.shape), tuple(like.shape)):
            raise ValueError(f"{what}: expected shape {tuple(like.shape)}, got {tuple(t.shape)}")
        t = t.reshape(like.shape)
    return t


def as_f64_list(values, like, what="result"):
    """A returned list of tensors, converted and checked against ``like``'s shapes.

    ``like`` is the list of tensors that was passed in. Any iterable (list,
    tuple, generator) is accepted, and a single tensor when exactly one was
    expected. Shapes must match, up to size-1 dimensions.
    """
    if isinstance(values, (torch.Tensor, np.ndarray)):
        if len(like) == 1 and _same_up_to_ones(tuple(np.shape(values)), tuple(like[0].shape)):
            values = [values]
    if isinstance(values, (dict, str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{what}: expected a list of {len(like)} tensors, "
                        f"got {type(values).__name__}")
    values = list(values)
    if len(values) != len(like):
        raise ValueError(f"{what}: expected a list of {len(like)} tensors, got {len(values)}")
    return [as_f64_like(v, ref, f"{what}[{i}]") for i, (v, ref) in enumerate(zip(values, like))]


def nested(t):
    """A tensor as nested Python lists of floats."""
    return t.detach().to(F64).cpu().tolist()
