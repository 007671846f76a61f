"""The reference's side of the grader's experiments, in torch: what the reference cache is built from.

``REFERENCE`` is a namespace of torch functions that mirror the reference
(``reference/q4_batch.py``'s update rules, the reference magnitude pruning and
LoRA factors); ``compute(name, lab)`` runs the grader's own experiment
(``experiments/``) for one cached result with those functions behind ``lab``
(a ``Lab`` over the same wire a submission is called through). Imported only
by the cache builder (``python -m hw11grader.staff.build_cache``), in a
subprocess: the grading process never imports torch.
"""
from __future__ import annotations

import math
import types

import torch

from experiments import q1_lora, q4_batch, q7_sensitivity

# what the builder runs: part of the cache key (this file's text is hashed)
SETTINGS = {
    "q4": {name: {"task": t, "optimizer": o} for name, (t, o) in q4_batch.DEFAULT_SWEEPS.items()},
    "q7": {"sparsities": list(q7_sensitivity.SPARSITIES)},
    "q1": {"steps": q1_lora.STEPS},
}


# ---------------------------------------------------------------- the reference, in torch

def linreg_grad(w, X, y):
    return X.T @ (X @ w - y) / len(y)


def sgd_update(params, grads, lr):
    return [p - lr * g for p, g in zip(params, grads)]


def adam_update(params, grads, state, lr, betas=(0.9, 0.999), eps=1e-8):
    b1, b2 = betas
    t = state.get("step", 0) + 1
    ms = state.get("m") or [torch.zeros_like(p) for p in params]
    vs = state.get("v") or [torch.zeros_like(p) for p in params]
    new_p, new_m, new_v = [], [], []
    for p, g, m, v in zip(params, grads, ms, vs):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        new_p.append(p - lr * m_hat / (v_hat.sqrt() + eps))
        new_m.append(m)
        new_v.append(v)
    return new_p, {"step": t, "m": new_m, "v": new_v}


def magnitude_prune(W, sparsity):
    k = min(max(int(round(float(sparsity) * W.numel())), 0), W.numel())
    out = W.detach().clone().reshape(-1)
    if k:
        order = torch.argsort(out.abs(), stable=True)
        out[order[:k]] = 0.0
    return out.reshape(W.shape)


def lora_init(m, k, l, generator=None):
    A = torch.randn(m, k, generator=generator, dtype=torch.float64) / math.sqrt(k)
    return A, torch.zeros(k, l, dtype=torch.float64)


def lora_grads(G, A, B):
    return G @ B.T, A.T @ G


REFERENCE = types.SimpleNamespace(
    linreg_grad=linreg_grad, sgd_update=sgd_update, adam_update=adam_update,
    magnitude_prune=magnitude_prune, lora_init=lora_init, lora_grads=lora_grads)


def compute(name, lab):
    if name.startswith("q4_"):
        task, optimizer = q4_batch.DEFAULT_SWEEPS[name[3:]]
        return q4_batch.run_sweep(lab, task, optimizer)
    if name == "q7_sensitivity":
        return q7_sensitivity.sensitivity(lab, sparsities=SETTINGS["q7"]["sparsities"])
    if name == "q1_scenarios":
        return q1_lora.scenarios(lab, steps=SETTINGS["q1"]["steps"])
    raise KeyError(name)
