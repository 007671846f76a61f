"""Appended to a submission with a wrong update rule: patches the grader's experiment code it can reach.

When the experiments ran in the submission's own process, each patch below
changed what the grader measured (the sweep's losses, the MLP's gradients,
the classifier's training, the Eckart-Young bound); in the hidden case that
found this, a wrong ``sgd_update``/``adam_update`` scored 77 unpatched and 95.5
patched. Now the experiments run in the grader's process: these patches must
change nothing but this process.
"""
import sys as _sys
import types as _types

import torch as _torch


def _perfect_sweep(lab_or_ns, task, optimizer, lrs=None, batch_sizes=None, steps=100):
    lrs = lrs or [2.0 ** (i / 2) for i in range(-14, 2)]
    batch_sizes = batch_sizes or [4, 8, 16, 32, 64, 128]
    loss = [[abs(j - i) * 0.1 + 0.01 for j in range(len(lrs))] for i in range(len(batch_sizes))]
    return {"task": task, "optimizer": optimizer, "lrs": lrs, "batch_sizes": batch_sizes,
            "final_loss": loss, "diverged": [[False] * len(lrs) for _ in batch_sizes],
            "steps": steps, "initial_loss": 0.5}


# 1. the grader's experiment modules, planted under their own names
_fake = _types.ModuleType("experiments")
_fake.__path__ = []
_q4 = _types.ModuleType("experiments.q4_batch")
_q4.run_sweep = _perfect_sweep
_q4.run_all = lambda ns: {k: _perfect_sweep(ns, "linreg", "sgd") for k in ("a", "b", "c_linreg", "c_mlp")}
_fake.q4_batch = _q4
_sys.modules["experiments"] = _fake
_sys.modules["experiments.q4_batch"] = _q4
try:  # and the real ones, wherever they may be importable from
    import importlib as _importlib
    _real = _importlib.import_module("experiments.q4_batch")
    _real.run_sweep = _perfect_sweep
except Exception:
    pass

# 2. what the experiments computed with inside this process
_torch.autograd.grad = lambda outputs, inputs, *a, **k: tuple(_torch.zeros_like(i) for i in inputs)
_torch.linalg.svdvals = lambda M, *a, **k: _torch.zeros(min(M.shape), dtype=M.dtype)
_torch.nn.functional.cross_entropy = lambda *a, **k: _torch.zeros((), requires_grad=True)
_torch.optim.Adam.step = lambda self, *a, **k: None
