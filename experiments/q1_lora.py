"""Q1: LoRA scenarios run with the submission's ``LoRALinear``, ``lora_init`` and ``lora_grads``.

No answers here: the functions report what they measured (shapes, counts,
outputs, losses) and, where a bound from linear algebra is needed, compute it
(the Eckart-Young tail from ``numpy.linalg.svd``). Verdicts are the caller's.
Everything here is numpy, in the grader's process; the submission is reached
only through ``lab`` (see ``experiments/__init__.py``).

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

Round trips: ``train_lora`` makes one ``lora_grads`` call per step; ``rank_sweep``
and ``scenarios`` run their trainings side by side, with one ``lab.map`` per step
for each half of the runs still going, both in flight (each run's arithmetic is
the same as alone, and the calls come in the order of one map per step).
"""
import math

import numpy as np

from . import F64, BadValue, as_f64, as_f64_like, as_f64_list, nested, pair, rng

TASK = {"m": 24, "l": 40, "n": 64, "rank": 6,
        "singular_values": (4.0, 3.0, 2.0, 1.5, 1.0, 0.7), "seed": 11}
RANKS = (1, 2, 4, 6, 8)
STEPS = 1500
PROBE_LR = 0.1

PROBE_ATTRS = ("W0", "A", "B")


# ------------------------------------------------------------------ linear_probe

def _tensor_attr(info, name):
    """The inspected attribute ``name`` if it is a tensor (else None)."""
    a = (info.get("attrs") or {}).get(name) or {}
    return a if a.get("present") and a.get("is_tensor") else None


def _value(attr):
    return None if attr is None or attr.get("value") is None else np.asarray(attr["value"], dtype=F64)


def _shape_list(shape):
    return None if shape is None else [int(n) for n in shape]


def _max_abs(a):
    """``max |a|`` as a float (0.0 for an empty array; NaN propagates)."""
    return float(np.max(np.abs(a))) if a.size else 0.0


def _ab_max(info):
    A, B = _value(_tensor_attr(info, "A")), _value(_tensor_attr(info, "B"))
    if A is None or B is None:
        return None
    try:
        AB = A @ B
    except ValueError:          # shapes that do not multiply
        return None
    return float(np.max(np.abs(AB))) if AB.size else None


def _array_in(v):
    """A caller's array-like (an ndarray, nested lists, or anything with ``__array__``)."""
    return v if isinstance(v, (np.ndarray, list, tuple)) or not hasattr(v, "__array__") else np.asarray(v)


def linear_probe(lab, W0, k, x, seed=0):
    """Build ``LoRALinear(W0, k)``, inspect it, and take one SGD step (lr = 0.1).

    ``W0`` (m x l) and ``x`` (... x l) may be arrays (anything with ``__array__``) or
    nested lists; they are
    passed on as float64 tensors. The step minimises
    ``((layer(x) - target)**2).mean()`` with the fixed target
    ``x @ W0.T + N(0, 1)`` noise (seeded), so the loss is non-zero: the grader
    computes the loss and its gradient with respect to the layer's output,
    the submission's process back-propagates that through the layer
    (``lab.vjp``), and the grader applies ``p - PROBE_LR * grad`` to each
    trainable parameter and sets it back (``lab.assign``).
    Attributes the layer lacks are reported as None; exceptions raised by the
    submission's constructor or forward propagate.
    """
    W0 = as_f64(_array_in(W0), "W0")
    x = as_f64(_array_in(x), "x")
    k = int(k)
    h = lab.call("LoRALinear", W0, k, keep=True)
    try:
        return _probe(lab, h, W0, x, seed)
    finally:
        lab.drop([h])


def _probe(lab, h, W0, x, seed):
    info0 = lab.inspect(h, PROBE_ATTRS)
    params = info0.get("parameters") or []
    trainable = [p for p in params if p.get("requires_grad")]
    w0 = _tensor_attr(info0, "W0")
    w0_before = _value(w0)
    A, B = _tensor_attr(info0, "A"), _tensor_attr(info0, "B")

    def present(name):
        return ((info0.get("attrs") or {}).get(name) or {}).get("present", False)

    report = {
        "is_module": bool(info0.get("is_module")),
        "trainable_count": int(sum(math.prod(int(n) for n in p["shape"]) for p in trainable)),
        "trainable": [{"name": p["name"], "shape": _shape_list(p["shape"]), "dtype": p["dtype"]}
                      for p in trainable],
        "frozen_parameters": [p["name"] for p in params if not p.get("requires_grad")],
        "buffers": sorted(info0.get("buffers") or []),
        "has_W0": w0 is not None,
        "W0_requires_grad": bool(w0["requires_grad"]) if w0 is not None else None,
        "W0_is_parameter": bool(present("W0") and info0["attrs"]["W0"].get("is_parameter")),
        "W0_is_buffer": bool(w0["is_buffer"]) if w0 is not None else False,
        "W0_shape": _shape_list(w0["shape"]) if w0 is not None else None,
        "W0_max_abs_diff_from_input": (_max_abs(w0_before - W0)
                                       if w0_before is not None and w0_before.shape == W0.shape
                                       else None),
        "A_shape": _shape_list(A["shape"]) if A is not None else None,
        "B_shape": _shape_list(B["shape"]) if B is not None else None,
        "A_is_parameter": bool(present("A") and info0["attrs"]["A"].get("is_parameter")),
        "B_is_parameter": bool(present("B") and info0["attrs"]["B"].get("is_parameter")),
        "AB_max_abs_initial": _ab_max(info0),
    }

    out0 = lab.vjp(h, (x,), None)["output"]
    out0_f = as_f64(out0, "LoRALinear output")
    report["output_shape"] = [int(n) for n in out0_f.shape]
    report["output_initial"] = nested(out0_f)

    base = x @ W0.T
    target = base + rng(seed + 12345).standard_normal(base.shape)
    report["target"] = nested(target)

    step_applied = False
    grad_max = {}
    loss_before = None
    if isinstance(out0, np.ndarray) and out0.shape == target.shape:
        diff = out0_f - target
        loss_before = float(np.mean(diff * diff))
        if trainable:
            cotangent = 2.0 * diff / diff.size          # d mean((out - target)**2) / d out
            res = lab.vjp(h, (x,), cotangent)
            if res.get("backward"):
                grads = res.get("grads") or {}
                values = {p["name"]: np.asarray(p["value"], dtype=F64) for p in trainable}
                new = {}
                for p in trainable:
                    n = p["name"]
                    g = grads.get(n)
                    if g is None:
                        grad_max[n] = None
                        continue
                    g = np.asarray(g, dtype=F64)
                    grad_max[n] = _max_abs(g)
                    if g.shape != values[n].shape:      # the child reports .grad as it is
                        raise BadValue(f"the gradient of parameter {n!r} has shape {g.shape}, "
                                       f"not that of the parameter {values[n].shape}")
                    new[n] = values[n] - PROBE_LR * g
                if new:
                    lab.assign(h, new)
                step_applied = True
    report["loss_before"] = loss_before
    report["step_applied"] = step_applied
    report["grad_max_abs"] = grad_max

    out1 = as_f64(lab.vjp(h, (x,), None)["output"], "LoRALinear output")
    report["output_after"] = nested(out1)
    report["loss_after"] = (float(np.mean((out1 - target) ** 2))
                            if out1.shape == target.shape else None)
    report["output_max_change"] = (_max_abs(out1 - out0_f)
                                   if out1.shape == out0_f.shape else None)
    info1 = lab.inspect(h, PROBE_ATTRS)
    w0_after = _value(_tensor_attr(info1, "W0"))
    report["W0_max_change"] = (_max_abs(w0_after - w0_before)
                               if w0_after is not None and w0_before is not None
                               and w0_after.shape == w0_before.shape else None)
    report["AB_max_abs_after"] = _ab_max(info1)
    return report


# ------------------------------------------------------------------ training task

def make_task(seed=None):
    """``(W0, W_star, X)`` (numpy float64): ``W_star - W0`` has rank ``TASK["rank"]`` with the
    listed singular values; ``X`` is ``n x l`` with ``X.T @ X / n == I`` (up to rounding)."""
    c = TASK
    g = rng(c["seed"] if seed is None else seed)
    m, l, n, r = c["m"], c["l"], c["n"], c["rank"]
    W0 = g.standard_normal((m, l)) / math.sqrt(l)
    U, _ = np.linalg.qr(g.standard_normal((m, r)))
    V, _ = np.linalg.qr(g.standard_normal((l, r)))
    s = np.asarray(c["singular_values"], dtype=F64)
    delta = (U * s) @ V.T
    Q, _ = np.linalg.qr(g.standard_normal((n, l)))     # n x l, orthonormal columns
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
    s = np.linalg.svd(np.asarray(W_star, dtype=F64) - np.asarray(W0, dtype=F64), compute_uv=False)
    sq = s * s
    return {int(k): 0.5 * float(sq[int(k):].sum()) for k in ks}, [float(v) for v in s]


def _xavier(rows, cols, g):
    bound = math.sqrt(6.0 / (rows + cols))
    return (g.random((rows, cols)) * 2 - 1) * bound


def _initial_factors(lab, init, m, k, l, seed):
    if init == "zero_zero":
        return np.zeros((m, k)), np.zeros((k, l))
    if init == "random_random":              # Xavier-uniform on both factors
        g = rng(seed)
        return _xavier(m, k, g), _xavier(k, l, g)
    if init == "student":
        from hw11grader.authoring import Generator
        A, B = pair(lab.call("lora_init", m, k, l, generator=Generator(seed)), "lora_init")
        return as_f64_like(A, (m, k), "lora_init's A"), as_f64_like(B, (k, l), "lora_init's B")
    raise ValueError(f"unknown init {init!r}")


def _spec(M):
    if not M.size:
        return 0.0
    if not bool(np.isfinite(M).all()):
        return math.inf
    return float(np.linalg.svd(M, compute_uv=False)[0])     # the spectral norm


class _Run:
    """One training of ``W0 + A @ B``: the grader's side of every step."""

    def __init__(self, lab, init, k, steps, seed, lr_scale):
        c = TASK
        self.m, self.l = c["m"], c["l"]
        self.init, self.k, self.steps, self.lr_scale = init, int(k), int(steps), lr_scale
        self.W0, self.W_star, self.X = make_task()
        self.loss_w0, _ = _loss_and_grad(self.W0, self.W_star, self.X)
        self.A, self.B = _initial_factors(lab, init, self.m, self.k, self.l, seed + 1000 * self.k + 7)
        self.A0, self.B0 = self.A.copy(), self.B.copy()
        tails, self.svals = eckart_young_tails(self.W0, self.W_star, [self.k])
        self.tail = tails[self.k]
        self.lr = list(self._step_sizes())
        self.W = self.W0 + self.A @ self.B
        loss0, self.G = _loss_and_grad(self.W, self.W_star, self.X)
        self.losses = [loss0]
        self.best = loss0
        self.diverged = False
        self.done_steps = 0

    @property
    def running(self):
        return not self.diverged and self.done_steps < self.steps

    def _step_sizes(self):
        s1 = self.svals[0]
        return self.lr_scale / (s1 + _spec(self.B) ** 2), self.lr_scale / (s1 + _spec(self.A) ** 2)

    def call(self):
        """The arguments of this step's ``lora_grads`` call."""
        return (self.G, self.A, self.B), {}

    def advance(self, result):
        dA, dB = as_f64_list(result, [self.A, self.B], "lora_grads' result")
        lr_A, lr_B = self._step_sizes()
        self.A = self.A - lr_A * dA
        self.B = self.B - lr_B * dB
        self.W = self.W0 + self.A @ self.B
        loss, self.G = _loss_and_grad(self.W, self.W_star, self.X)
        self.done_steps += 1
        if not (loss <= 1e6 * self.loss_w0):
            self.diverged = True
            return
        self.losses.append(loss)
        self.best = min(self.best, loss)

    def result(self):
        losses, diverged = self.losses, self.diverged
        every = max(1, len(losses) // 50)
        return {
            "init": self.init, "k": self.k, "m": self.m, "l": self.l, "steps": self.steps, "lr": self.lr,
            "loss_at_W0": self.loss_w0,
            "initial_loss": losses[0],
            "final_loss": math.inf if diverged else losses[-1],
            "best_loss": math.inf if diverged else self.best,
            "diverged": diverged,
            "eckart_young": self.tail,
            "singular_values": self.svals,
            "AB_max_abs_initial": _max_abs(self.A0 @ self.B0),
            "AB_max_abs_final": math.inf if diverged else _max_abs(self.A @ self.B),
            "W_equals_W0": bool(np.array_equal(self.W, self.W0)),
            "W_max_change": _max_abs(self.W - self.W0),
            "A_changed": not np.array_equal(self.A, self.A0),
            "B_changed": not np.array_equal(self.B, self.B0),
            "loss_curve": [float(v) for v in losses[::every]],
        }


def _train_together(lab, runs):
    """Step all ``runs`` side by side: per step, one ``lab.map("lora_grads", ...)`` for each half
    of the runs, both in flight (``lab.map_start``), so the grader steps one half while the
    submission computes the other's gradients. The calls, and their order, are those of one map
    per step (the first half's runs, the second half's, next step): a run's arguments depend only
    on its own earlier steps. (A failure ends the training; the lab drops what is in flight.)"""
    cut = (len(runs) + 1) // 2
    halves = [runs[:cut], runs[cut:]]
    pending = [None, None]
    while True:
        for h, half in enumerate(halves):
            if pending[h] is not None:   # its previous step
                (active, sent), pending[h] = pending[h], None
                results = lab.map_finish(sent)
                if not isinstance(results, list) or len(results) != len(active):
                    raise RuntimeError("lab.map returned the wrong number of results")   # the grader's fault
                for r, res in zip(active, results):
                    r.advance(res)
            active = [r for r in half if r.running]
            if active:
                pending[h] = (active, lab.map_start("lora_grads", [r.call() for r in active]))
        if pending == [None, None]:
            return [r.result() for r in runs]


def train_lora(lab, init, k=2, steps=STEPS, seed=0, lr_scale=0.5):
    """Train ``W = W0 + A @ B`` on the task with gradients from the submission's ``lora_grads``.

    ``init``: ``"zero_zero"`` (A = B = 0), ``"random_random"`` (both
    Xavier-uniform, drawn by the grader) or ``"student"`` (``lora_init(m, k,
    l, generator=...)``). Gradient descent with block-wise step sizes,
    recomputed at every step from the current factors:
    ``lr_A = lr_scale / (sigma_1(Delta) + |B|_2^2)`` and
    ``lr_B = lr_scale / (sigma_1(Delta) + |A|_2^2)`` (``|B|_2^2`` is the
    curvature of the loss in ``A`` and vice versa), so that factors of very
    different scales - e.g. ``A ~ N(0, 1)`` with ``B = 0`` - still train at a
    sensible pace. ``lr`` in the result: ``[lr_A, lr_B]`` at the first step.
    Diverged runs (NaN/inf or a loss above 1e6 x the loss at W0) stop with
    final loss inf. One ``lab.call("lora_grads", G, A, B)`` per step.
    """
    run = _Run(lab, init, k, steps, seed, lr_scale)
    while run.running:
        (G, A, B), _ = run.call()
        run.advance(lab.call("lora_grads", G, A, B))
    return run.result()


def _sweep_summary(runs):
    return {
        "ranks": [r["k"] for r in runs],
        "target_rank": int(TASK["rank"]),
        "singular_values": runs[0]["singular_values"] if runs else [],
        "loss_at_W0": runs[0]["loss_at_W0"] if runs else None,
        "initial_loss": [r["initial_loss"] for r in runs],
        "final_loss": [r["final_loss"] for r in runs],
        "best_loss": [r["best_loss"] for r in runs],
        "eckart_young": [r["eckart_young"] for r in runs],
        "diverged": [r["diverged"] for r in runs],
    }


def rank_sweep(lab, ranks=RANKS, steps=STEPS, seed=0):
    """``train_lora(lab, "student", k)`` for each rank: loss vs rank beside Eckart-Young.

    The runs train side by side (one ``lab.map`` per step); each gives what
    ``train_lora`` alone would."""
    runs = [_Run(lab, "student", k, steps, seed, 0.5) for k in ranks]
    return _sweep_summary(_train_together(lab, runs))


def scenarios(lab, steps=STEPS):
    """The three Q1 experiments in one call: both-zero, both-random, and the rank sweep
    (all seven trainings side by side, one ``lab.map`` per step)."""
    runs = [_Run(lab, "zero_zero", 2, steps, 0, 0.5), _Run(lab, "random_random", 2, steps, 0, 0.5)]
    runs += [_Run(lab, "student", k, steps, 0, 0.5) for k in RANKS]
    out = _train_together(lab, runs)
    return {"zero_zero": out[0], "random_random": out[1], "rank_sweep": _sweep_summary(out[2:])}
