"""Q1: LoRA scenarios run with the submission's ``LoRALinear``, ``lora_init`` and ``lora_grads``.

No answers here: the functions report what they measured (shapes, counts,
outputs, losses) and, where a bound from linear algebra is needed, compute it
(the Eckart-Young tail from ``torch.linalg.svd``). Verdicts are the caller's.

The training task of ``train_lora`` / ``rank_sweep``: fit ``W* = W0 + Delta``
where ``Delta`` has rank ``TASK["rank"]``, from inputs ``x`` whose empirical
second moment is exactly the identity (``X.T @ X / n == I``), with the loss

    L(W) = mean_i ||W x_i - W* x_i||^2 / 2  ==  ||W - W*||_F^2 / 2.

``W = W0 + A @ B`` and the grader computes ``G = dL/dW = (W - W*) X.T X / n``;
the submission's ``lora_grads(G, A, B)`` turns it into ``(dA, dB)`` and the
grader takes plain gradient steps ``A -= lr_A * dA``, ``B -= lr_B * dB`` (block-wise
step sizes, see ``train_lora``). By
Eckart-Young the best rank-``k`` ``A @ B`` leaves the loss
``sum_{i > k} sigma_i(Delta)**2 / 2``.
"""
import math

import torch
from torch import nn

from . import F64, as_f64, as_f64_like, as_f64_list, controlled, nested

TASK = {"m": 24, "l": 40, "n": 64, "rank": 6,
        "singular_values": (4.0, 3.0, 2.0, 1.5, 1.0, 0.7), "seed": 11}
RANKS = (1, 2, 4, 6, 8)
STEPS = 1500
PROBE_LR = 0.1


def _gen(seed):
    return torch.Generator().manual_seed(int(seed))


# ------------------------------------------------------------------ linear_probe

def _attr(obj, name):
    try:
        return getattr(obj, name)
    except Exception:          # a missing attribute (or a broken property) is reported as None
        return None


def _shape(t):
    return [int(n) for n in t.shape] if isinstance(t, torch.Tensor) else None


def linear_probe(ns, W0, k, x, seed=0):
    """Build ``ns.LoRALinear(W0, k)``, inspect it, and take one SGD step (lr = 0.1).

    ``W0`` (m x l) and ``x`` (... x l) may be tensors or nested lists; they are
    passed on as float64 tensors. The step minimises
    ``((layer(x) - target)**2).mean()`` with the fixed target
    ``x @ W0.T + N(0, 1)`` noise (seeded), so the loss is non-zero.
    Attributes the layer lacks are reported as None; exceptions raised by the
    submission's constructor or forward propagate.
    """
    W0 = as_f64(W0, "W0")
    x = as_f64(x, "x")
    k = int(k)
    with controlled(seed):
        layer = ns.LoRALinear(W0.clone(), k)
        params = list(layer.named_parameters()) if isinstance(layer, nn.Module) else []
        trainable = [(n, p) for n, p in params if p.requires_grad]
        buffers = dict(layer.named_buffers()) if isinstance(layer, nn.Module) else {}
        w0 = _attr(layer, "W0")
        A = _attr(layer, "A")
        B = _attr(layer, "B")
        w0_t = w0 if isinstance(w0, torch.Tensor) else None
        w0_before = w0_t.detach().clone().to(F64) if w0_t is not None else None
        A_t = A if isinstance(A, torch.Tensor) else None
        B_t = B if isinstance(B, torch.Tensor) else None

        def ab_max():
            if A_t is None or B_t is None:
                return None
            try:
                return float((A_t.detach().to(F64) @ B_t.detach().to(F64)).abs().max())
            except RuntimeError:
                return None

        report = {
            "is_module": isinstance(layer, nn.Module),
            "trainable_count": int(sum(p.numel() for _, p in trainable)),
            "trainable": [{"name": n, "shape": _shape(p), "dtype": str(p.dtype)}
                          for n, p in trainable],
            "frozen_parameters": [n for n, p in params if not p.requires_grad],
            "buffers": sorted(buffers),
            "has_W0": w0_t is not None,
            "W0_requires_grad": bool(w0_t.requires_grad) if w0_t is not None else None,
            "W0_is_parameter": isinstance(w0, nn.Parameter),
            "W0_is_buffer": any(b is w0 for b in buffers.values()) if w0_t is not None else False,
            "W0_shape": _shape(w0_t),
            "W0_max_abs_diff_from_input": (float((w0_before - W0).abs().max())
                                           if w0_before is not None and w0_before.shape == W0.shape
                                           else None),
            "A_shape": _shape(A_t), "B_shape": _shape(B_t),
            "A_is_parameter": isinstance(A, nn.Parameter),
            "B_is_parameter": isinstance(B, nn.Parameter),
            "AB_max_abs_initial": ab_max(),
        }

        out0 = layer(x)
        out0_f = as_f64(out0, "LoRALinear output")
        report["output_shape"] = _shape(out0_f)
        report["output_initial"] = nested(out0_f)

        gx = _gen(seed + 12345)
        base = x @ W0.T
        target = base + torch.randn(base.shape, generator=gx, dtype=F64)
        report["target"] = nested(target)

        step_applied = False
        grad_max = {}
        loss_before = None
        if isinstance(out0, torch.Tensor) and tuple(out0.shape) == tuple(target.shape):
            loss = ((out0 - target.to(out0.dtype)) ** 2).mean()
            loss_before = float(loss.detach())
            if loss.requires_grad and trainable:
                for _, p in trainable:
                    p.grad = None
                loss.backward()
                with torch.no_grad():
                    for n, p in trainable:
                        g = p.grad
                        grad_max[n] = float(g.detach().abs().max()) if g is not None else None
                        if g is not None:
                            p -= PROBE_LR * g
                step_applied = True
        report["loss_before"] = loss_before
        report["step_applied"] = step_applied
        report["grad_max_abs"] = grad_max

        with torch.no_grad():
            out1 = as_f64(layer(x), "LoRALinear output")
        report["output_after"] = nested(out1)
        report["loss_after"] = (float(((out1 - target) ** 2).mean())
                                if out1.shape == target.shape else None)
        report["output_max_change"] = (float((out1 - out0_f).abs().max())
                                       if out1.shape == out0_f.shape else None)
        w0_after = _attr(layer, "W0")
        report["W0_max_change"] = (
            float((w0_after.detach().to(F64) - w0_before).abs().max())
            if isinstance(w0_after, torch.Tensor) and w0_before is not None
            and w0_after.shape == w0_before.shape else None)
        report["AB_max_abs_after"] = ab_max()
    return report


# ------------------------------------------------------------------ training task

def make_task(seed=None):
    """``(W0, W_star, X)``: ``W_star - W0`` has rank ``TASK["rank"]`` with the listed
    singular values; ``X`` is ``n x l`` with ``X.T @ X / n == I`` (up to rounding)."""
    c = TASK
    g = _gen(c["seed"] if seed is None else seed)
    m, l, n, r = c["m"], c["l"], c["n"], c["rank"]
    W0 = torch.randn(m, l, generator=g, dtype=F64) / math.sqrt(l)
    U, _ = torch.linalg.qr(torch.randn(m, r, generator=g, dtype=F64))
    V, _ = torch.linalg.qr(torch.randn(l, r, generator=g, dtype=F64))
    s = torch.tensor(c["singular_values"], dtype=F64)
    delta = U @ torch.diag(s) @ V.T
    Q, _ = torch.linalg.qr(torch.randn(n, l, generator=g, dtype=F64))   # n x l, orthonormal columns
    X = math.sqrt(n) * Q
    return W0, W0 + delta, X


def _loss_and_grad(W, W_star, X):
    n = X.shape[0]
    R = X @ (W - W_star).T                       # n x m residuals
    loss = 0.5 * float((R * R).sum()) / n
    G = R.T @ X / n                              # m x l
    return loss, G


def eckart_young_tails(W0, W_star, ks):
    """``{k: sum_{i>k} sigma_i(W_star - W0)**2 / 2}`` and the singular values (via SVD)."""
    s = torch.linalg.svdvals(W_star - W0)
    sq = s * s
    return {int(k): 0.5 * float(sq[int(k):].sum()) for k in ks}, [float(v) for v in s]


def _xavier(rows, cols, g):
    bound = math.sqrt(6.0 / (rows + cols))
    return (torch.rand(rows, cols, generator=g, dtype=F64) * 2 - 1) * bound


def _initial_factors(ns, init, m, k, l, seed):
    g = _gen(seed)
    if init == "zero_zero":
        return torch.zeros(m, k, dtype=F64), torch.zeros(k, l, dtype=F64)
    if init == "random_random":              # Xavier-uniform on both factors
        return _xavier(m, k, g), _xavier(k, l, g)
    if init == "student":
        out = ns.lora_init(m, k, l, generator=g)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise TypeError("lora_init must return (A, B)")
        A = as_f64_like(out[0], torch.empty(m, k), "lora_init's A")
        B = as_f64_like(out[1], torch.empty(k, l), "lora_init's B")
        return A.clone(), B.clone()
    raise ValueError(f"unknown init {init!r}")


def train_lora(ns, init, k=2, steps=STEPS, seed=0, lr_scale=0.5):
    """Train ``W = W0 + A @ B`` on the task with gradients from ``ns.lora_grads``.

    ``init``: ``"zero_zero"`` (A = B = 0), ``"random_random"`` (both
    Xavier-uniform, drawn by the grader) or ``"student"`` (``ns.lora_init(m, k,
    l, generator=...)``). Gradient descent with block-wise step sizes,
    recomputed at every step from the current factors:
    ``lr_A = lr_scale / (sigma_1(Delta) + |B|_2^2)`` and
    ``lr_B = lr_scale / (sigma_1(Delta) + |A|_2^2)`` (``|B|_2^2`` is the
    curvature of the loss in ``A`` and vice versa), so that factors of very
    different scales - e.g. ``A ~ N(0, 1)`` with ``B = 0`` - still train at a
    sensible pace. ``lr`` in the result: ``[lr_A, lr_B]`` at the first step.
    Diverged runs (NaN/inf or a loss above 1e6 x the loss at W0) stop with
    final loss inf.
    """
    c = TASK
    m, l = c["m"], c["l"]
    k = int(k)
    with controlled(seed):
        W0, W_star, X = make_task()
        loss_w0, _ = _loss_and_grad(W0, W_star, X)
        A, B = _initial_factors(ns, init, m, k, l, seed + 1000 * k + 7)
        A0, B0 = A.clone(), B.clone()
        tails, svals = eckart_young_tails(W0, W_star, [k])

        def spec(M):
            if not M.numel():
                return 0.0
            if not bool(torch.isfinite(M).all()):
                return math.inf
            return float(torch.linalg.matrix_norm(M, ord=2))

        def step_sizes(A, B):
            return lr_scale / (svals[0] + spec(B) ** 2), lr_scale / (svals[0] + spec(A) ** 2)

        lr = list(step_sizes(A, B))
        W = W0 + A @ B
        loss0, G = _loss_and_grad(W, W_star, X)
        losses = [loss0]
        best = loss0
        diverged = False
        for _ in range(int(steps)):
            dA, dB = as_f64_list(ns.lora_grads(G.clone(), A.clone(), B.clone()), [A, B],
                                 "lora_grads' result")
            lr_A, lr_B = step_sizes(A, B)
            A = A - lr_A * dA
            B = B - lr_B * dB
            W = W0 + A @ B
            loss, G = _loss_and_grad(W, W_star, X)
            if not (loss <= 1e6 * loss_w0):
                diverged = True
                break
            losses.append(loss)
            best = min(best, loss)
        final = math.inf if diverged else losses[-1]
        every = max(1, len(losses) // 50)
        return {
            "init": init, "k": k, "m": m, "l": l, "steps": int(steps), "lr": lr,
            "loss_at_W0": loss_w0,
            "initial_loss": loss0,
            "final_loss": final,
            "best_loss": math.inf if diverged else best,
            "diverged": diverged,
            "eckart_young": tails[k],
            "singular_values": svals,
            "AB_max_abs_initial": float((A0 @ B0).abs().max()),
            "AB_max_abs_final": math.inf if diverged else float((A @ B).abs().max()),
            "W_equals_W0": bool(torch.equal(W, W0)),
            "W_max_change": float((W - W0).abs().max()),
            "A_changed": not torch.equal(A, A0),
            "B_changed": not torch.equal(B, B0),
            "loss_curve": [float(v) for v in losses[::every]],
        }


def rank_sweep(ns, ranks=RANKS, steps=STEPS, seed=0):
    """``train_lora(ns, "student", k)`` for each rank: loss vs rank beside Eckart-Young."""
    runs = [train_lora(ns, "student", k=k, steps=steps, seed=seed) for k in ranks]
    return {
        "ranks": [int(k) for k in ranks],
        "target_rank": int(TASK["rank"]),
        "singular_values": runs[0]["singular_values"] if runs else [],
        "loss_at_W0": runs[0]["loss_at_W0"] if runs else None,
        "initial_loss": [r["initial_loss"] for r in runs],
        "final_loss": [r["final_loss"] for r in runs],
        "best_loss": [r["best_loss"] for r in runs],
        "eckart_young": [r["eckart_young"] for r in runs],
        "diverged": [r["diverged"] for r in runs],
    }


def scenarios(ns, steps=STEPS):
    """The three Q1 experiments in one call: both-zero, both-random, and the rank sweep."""
    return {
        "zero_zero": train_lora(ns, "zero_zero", k=2, steps=steps),
        "random_random": train_lora(ns, "random_random", k=2, steps=steps),
        "rank_sweep": rank_sweep(ns, steps=steps),
    }
