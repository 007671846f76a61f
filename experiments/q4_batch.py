"""Q4: how the best learning rate depends on the batch size.

The grader owns everything here - data, initialisation, batch order, number
of steps, the MLP and its autograd gradients - and plugs in only the
submission's update rules (``ns.linreg_grad``, ``ns.sgd_update``,
``ns.adam_update``), so every submission runs the very same experiment.
No answers are held here: the sweep returns final losses only; the analysis
(best learning rate per batch size, power-law fit) is done by the caller.

Budget: a fixed number of optimisation STEPS (``STEPS`` = 100) for every batch
size; the loss is measured after the last step on the full data set. With a
fixed step budget the best learning rate is the one that makes the most
progress per step, which is what the linear scaling rule is about: for a
quadratic whose gradient noise comes from sampling the batch, the expected
one-step decrease ``eta*|g|^2 - eta^2/2*(g'Hg + tr(H Sigma)/B)`` is maximised
by ``eta_opt(B) = eta_max / (1 + B_noise / B)`` (McCandlish et al. 2018,
"An empirical model of large-batch training"): linear in ``B`` while
``B << B_noise``, saturating beyond. The linear-regression task is in the
interpolation regime (noiseless labels, Ma, Bassily & Belkin 2018): inputs
``x ~ N(0, I_d)`` with ``d = 256`` give
``E|w_{t+1} - w*|^2 = (1 - 2 eta + eta^2 (1 + (d+1)/B)) |w_t - w*|^2``, so the
best per-step (and hence fixed-step) learning rate is ``B / (B + d + 1)`` and
``B_noise ~ d`` lies above the largest batch. Label noise would add a loss
floor that the large batches reach within the budget, after which the best
learning rate stops depending on ``B`` (measured: flat from B = 32 with noise
std 0.05) - that measures the floor, not the scaling rule. A fixed budget of
EXAMPLES instead would give the small batches up to 32x more steps (and cost
~20x more); for the quadratic the best per-step rate is the same.

The MLP task (teacher-student regression, tanh, ``MLP`` below) is run on
``MLP["replicas"]`` = 4 independent replicas (own data, teacher, init and batch
order) at once, and the final loss is the mean over replicas: single runs
give learning-rate curves with flat bottoms whose argmin jumps by a grid step
or two from seed to seed. The update rules see the replicas as a leading
dimension of every parameter tensor (``W1: 4 x 32 x 32`` ...): element-wise
updates such as SGD and Adam are unaffected. See docs/experiments.md.

Divergence: a run whose loss becomes NaN/inf or exceeds ``DIVERGE_FACTOR``
times its initial loss is stopped and recorded as diverged with final loss
``float('inf')`` (never NaN), so a diverged run can never look like a minimum.
"""
import math
from functools import lru_cache

import torch

from . import F64, as_f64, as_f64_like, as_f64_list, controlled

STEPS = 100
DIVERGE_FACTOR = 1e6
BATCH_SIZES = (4, 8, 16, 32, 64, 128)

# one log-spaced grid per (task, optimizer): 2**(i/2)
_HALF_OCTAVES = {
    ("linreg", "sgd"): (-14, 1),     # 2**-7   .. 2**0.5   (16 values)
    ("linreg", "adam"): (-20, -5),   # 2**-10  .. 2**-2.5  (16 values)
    ("mlp", "sgd"): (-14, 2),        # 2**-7   .. 2**1     (17 values)
    ("mlp", "adam"): (-22, -5),      # 2**-11  .. 2**-2.5  (18 values)
}

# data sizes
LINREG = {"n": 4096, "d": 256, "noise": 0.0, "seed": 1234}
MLP = {"n": 4096, "d_in": 32, "hidden": 32, "teacher_hidden": 32, "teacher_scale": 1.0,
       "teacher_bias": 0.5, "teacher_out": 2.0, "noise": 0.0, "replicas": 4, "seed": 4321}

DEFAULT_SWEEPS = {
    "a": ("linreg", "sgd"),
    "b": ("mlp", "sgd"),
    "c_linreg": ("linreg", "adam"),
    "c_mlp": ("mlp", "adam"),
}


def default_lrs(task, optimizer):
    """The default log-spaced learning-rate grid of a (task, optimizer) pair."""
    lo, hi = _HALF_OCTAVES[(task, optimizer)]
    return [2.0 ** (i / 2) for i in range(lo, hi + 1)]


def grid_index(values, x):
    """Index of the grid value nearest to ``x`` in log scale (None if x is None)."""
    if x is None:
        return None
    lx = math.log(x)
    return min(range(len(values)), key=lambda i: abs(math.log(values[i]) - lx))


# ------------------------------------------------------------------ data

def _gen(seed):
    return torch.Generator().manual_seed(int(seed))


@lru_cache(maxsize=None)
def _linreg_data(seed):
    c = LINREG
    g = _gen(seed)
    n, d = c["n"], c["d"]
    X = torch.randn(n, d, generator=g, dtype=F64)
    w_star = torch.randn(d, generator=g, dtype=F64) / math.sqrt(d)
    y = X @ w_star + c["noise"] * torch.randn(n, generator=g, dtype=F64)
    return X, y


def make_linreg_data(seed=LINREG["seed"]):
    """Linear-regression data ``(X, y)``: ``X`` n x d standard normal, ``y = X w* + noise``.

    ``w* ~ N(0, I/d)`` so the initial loss at ``w = 0`` is about 1/2.
    Returns fresh copies (float64 tensors).
    """
    X, y = _linreg_data(int(seed))
    return X.clone(), y.clone()


def _mlp_forward(params, X):
    """Replicated one-hidden-layer tanh MLP.

    ``W1: R x h x d``, ``b1: R x h``, ``W2: R x o x h``, ``b2: R x o``,
    ``X: R x n x d`` -> ``R x n x o`` (replica ``r`` uses its own weights and data).
    """
    W1, b1, W2, b2 = params
    h = torch.tanh(torch.baddbmm(b1.unsqueeze(1), X, W1.transpose(1, 2)))
    return torch.baddbmm(b2.unsqueeze(1), h, W2.transpose(1, 2))


@lru_cache(maxsize=None)
def _mlp_data(seed):
    c = MLP
    R, n, d, h, th = c["replicas"], c["n"], c["d_in"], c["hidden"], c["teacher_hidden"]
    Xs, ys, inits = [], [], []
    for r in range(R):
        g = _gen(seed + 101 * r)
        X = torch.randn(n, d, generator=g, dtype=F64)
        teacher = [c["teacher_scale"] * torch.randn(1, th, d, generator=g, dtype=F64) / math.sqrt(d),
                   c["teacher_bias"] * torch.randn(1, th, generator=g, dtype=F64),
                   c["teacher_out"] * torch.randn(1, 1, th, generator=g, dtype=F64) / math.sqrt(th),
                   torch.zeros(1, 1, dtype=F64)]
        y = _mlp_forward(teacher, X.unsqueeze(0))[0]
        y = y + c["noise"] * torch.randn(n, 1, generator=g, dtype=F64)
        init = [torch.randn(h, d, generator=g, dtype=F64) / math.sqrt(d),
                torch.zeros(h, dtype=F64),
                torch.randn(1, h, generator=g, dtype=F64) / math.sqrt(h),
                torch.zeros(1, dtype=F64)]
        Xs.append(X)
        ys.append(y)
        inits.append(init)
    X = torch.stack(Xs)
    y = torch.stack(ys)
    init = [torch.stack([i[k] for i in inits]) for k in range(4)]
    return X, y, init


def make_mlp_data(seed=None):
    """Teacher-student regression, ``MLP["replicas"]`` independent replicas: ``(X, y, init)``.

    Replica ``r``: ``X[r]`` (n x d_in) standard normal; ``y[r]`` (n x 1) is the
    output of its own random one-hidden-layer tanh teacher (``teacher_hidden``
    units) plus ``noise``; ``init`` = ``[W1, b1, W2, b2]`` stacked over replicas
    (``R x hidden x d_in``, ``R x hidden``, ``R x 1 x hidden``, ``R x 1``): the
    student MLP's fixed initialisation (LeCun-normal weights, zero biases).
    """
    X, y, init = _mlp_data(int(MLP["seed"] if seed is None else seed))
    return X.clone(), y.clone(), [p.clone() for p in init]


def _batch_indices(n, batch_size, steps, seed):
    """Fixed batch order: shuffled epochs without replacement, concatenated."""
    g = _gen(seed)
    need = batch_size * steps
    perms = []
    while sum(len(p) for p in perms) < need:
        perms.append(torch.randperm(n, generator=g))
    return torch.cat(perms)[:need].reshape(steps, batch_size)


# ------------------------------------------------------------------ runs

def _linreg_loss(w, X, y):
    r = X @ w - y
    return 0.5 * float((r * r).mean())


def _mlp_losses(params, X, y):
    """Per-replica loss ``mean((pred - y)**2) / 2`` (a tensor of R values)."""
    r = _mlp_forward(params, X) - y
    return 0.5 * (r * r).mean(dim=(1, 2))


def _apply(ns, optimizer, params, grads, state, lr):
    if optimizer == "sgd":
        new = ns.sgd_update(params, grads, lr)
        return as_f64_list(new, params, "sgd_update's result"), state
    out = ns.adam_update(params, grads, state, lr)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError("adam_update must return (new_params, new_state)")
    new, state = out
    return as_f64_list(new, params, "adam_update's new_params"), state


def _run_linreg(ns, optimizer, lr, batches, X, y, init_loss):
    w = torch.zeros(X.shape[1], dtype=F64)
    state = {}
    limit = DIVERGE_FACTOR * init_loss
    for Xb, yb in batches:
        g = as_f64_like(ns.linreg_grad(w.clone(), Xb.clone(), yb.clone()), w,
                        "linreg_grad's result")
        (w,), state = _apply(ns, optimizer, [w], [g], state, lr)
        r = Xb @ w - yb
        loss = 0.5 * float((r * r).mean())
        if not (loss <= limit):        # NaN, inf or too large
            return math.inf, True
    final = _linreg_loss(w, X, y)
    if not (final <= limit):
        return math.inf, True
    return final, False


def _run_mlp(ns, optimizer, lr, batches, X, y, init, limits):
    """One learning rate on every replica at once (the update rules see stacked tensors).

    Final loss: the mean over replicas of each replica's full-data loss.
    Diverged if any replica diverged.
    """
    params = [p.clone() for p in init]
    state = {}
    for Xb, yb in batches:
        leaves = [p.detach().clone().requires_grad_(True) for p in params]
        losses = _mlp_losses(leaves, Xb, yb)
        if not bool((losses.detach() <= limits).all()):      # NaN, inf or too large
            return math.inf, True
        grads = [g.detach() for g in torch.autograd.grad(losses.sum(), leaves)]
        params, state = _apply(ns, optimizer, [p.detach() for p in leaves], grads, state, lr)
    with torch.no_grad():
        final = _mlp_losses(params, X, y)
    if not bool((final <= limits).all()):
        return math.inf, True
    return float(final.mean()), False


def run_sweep(ns, task, optimizer, lrs=None, batch_sizes=None, steps=STEPS):
    """Final loss for every (batch size, learning rate) pair.

    ``task`` in {"linreg", "mlp"}; ``optimizer`` in {"sgd", "adam"}.
    Every run starts from the same initialisation and, for a given batch size,
    sees the same batches in the same order; after ``steps`` updates the loss
    (``mean((pred - y)**2) / 2``) is measured on the full data set (for the
    MLP: the mean over its replicas; a learning rate that diverges on any
    replica is marked diverged).

    Returns ``{"task", "optimizer", "lrs", "batch_sizes", "final_loss",
    "diverged", "steps", "initial_loss"}`` where ``final_loss[i][j]`` and
    ``diverged[i][j]`` belong to ``batch_sizes[i]`` and ``lrs[j]``
    (diverged runs have final loss ``inf``).
    """
    if task not in ("linreg", "mlp"):
        raise ValueError(f"unknown task {task!r}")
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"unknown optimizer {optimizer!r}")
    lrs = [float(v) for v in (lrs if lrs is not None else default_lrs(task, optimizer))]
    batch_sizes = [int(b) for b in (batch_sizes if batch_sizes is not None else BATCH_SIZES)]
    steps = int(steps)
    with controlled(0):
        if task == "linreg":
            X, y = _linreg_data(LINREG["seed"])
            init_loss = _linreg_loss(torch.zeros(X.shape[1], dtype=F64), X, y)
        else:
            X, y, init = _mlp_data(MLP["seed"])
            with torch.no_grad():
                init_losses = _mlp_losses(init, X, y)
            init_loss = float(init_losses.mean())
            replica = torch.arange(X.shape[0]).unsqueeze(1)
        final_loss, diverged = [], []
        for b in batch_sizes:
            if task == "linreg":
                idx = _batch_indices(X.shape[0], b, steps, LINREG["seed"] + 7919 * b)
                batches = [(X[i], y[i]) for i in idx]
            else:
                idx = torch.stack([_batch_indices(X.shape[1], b, steps,
                                                  MLP["seed"] + 7919 * b + 101 * r)
                                   for r in range(X.shape[0])], dim=1)   # steps x R x b
                batches = [(X[replica, i], y[replica, i]) for i in idx]
            row_loss, row_div = [], []
            for lr in lrs:
                if task == "linreg":
                    loss, div = _run_linreg(ns, optimizer, lr, batches, X, y, init_loss)
                else:
                    loss, div = _run_mlp(ns, optimizer, lr, batches, X, y, init,
                                         DIVERGE_FACTOR * init_losses)
                row_loss.append(float(loss))
                row_div.append(bool(div))
            final_loss.append(row_loss)
            diverged.append(row_div)
    return {"task": task, "optimizer": optimizer, "lrs": lrs, "batch_sizes": batch_sizes,
            "final_loss": final_loss, "diverged": diverged, "steps": steps,
            "initial_loss": float(init_loss)}


def run_all(ns):
    """Every default sweep: ``{name: run_sweep(ns, task, optimizer)}`` for DEFAULT_SWEEPS."""
    return {name: run_sweep(ns, task, opt) for name, (task, opt) in DEFAULT_SWEEPS.items()}


# ------------------------------------------------------------------ unit scenario

def _dtype_name(value):
    dt = getattr(value, "dtype", None)
    return str(dt).replace("torch.", "") if dt is not None else type(value).__name__


def update_steps(ns, optimizer, params, grads, lr, betas=None, eps=None):
    """Run the submission's update rule for ``len(grads)`` steps and report what it did.

    ``optimizer``: ``"sgd"`` (``ns.sgd_update(params, g, lr)``) or ``"adam"``
    (``ns.adam_update(params, g, state, lr[, betas=..., eps=...])``: ``state`` is
    ``{}`` first, then whatever the submission returned, passed back unchanged;
    ``betas``/``eps`` are passed by keyword only when given, so None relies on the
    defaults). ``params``: list of arrays; ``grads``: one list of arrays per step.
    Each step's new parameters are the next step's input, as in the sweeps.

    Returns plain data: ``params`` (per step, the returned parameters as nested
    lists), ``params_modified`` / ``grads_modified`` (per step: did the call
    change the tensors it was handed?), ``dtypes`` (per step, the returned
    parameters' dtypes).
    """
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"unknown optimizer {optimizer!r}")
    current = [as_f64(p, "params") for p in params]
    seq = [[as_f64(g, "grads") for g in step] for step in grads]
    kwargs = {}
    if betas is not None:
        kwargs["betas"] = tuple(float(b) for b in betas)
    if eps is not None:
        kwargs["eps"] = float(eps)
    out = {"params": [], "params_modified": [], "grads_modified": [], "dtypes": []}
    state = {}
    with controlled(0):
        for step in seq:
            p_in = [p.clone() for p in current]
            g_in = [g.clone() for g in step]
            p_keep = [p.clone() for p in current]
            g_keep = [g.clone() for g in step]
            if optimizer == "sgd":
                raw = ns.sgd_update(p_in, g_in, float(lr))
            else:
                res = ns.adam_update(p_in, g_in, state, float(lr), **kwargs)
                if not isinstance(res, (tuple, list)) or len(res) != 2:
                    raise TypeError("adam_update must return (new_params, new_state)")
                raw, state = res
            if not isinstance(raw, (torch.Tensor,)) and hasattr(raw, "__iter__") \
                    and not isinstance(raw, (dict, str, bytes)):
                raw = list(raw)
            what = "sgd_update's result" if optimizer == "sgd" else "adam_update's new_params"
            new = as_f64_list(raw, p_in, what)
            out["dtypes"].append([_dtype_name(v) for v in raw] if isinstance(raw, list)
                                 else [_dtype_name(raw)])
            out["params_modified"].append(any(not torch.equal(a, b) for a, b in zip(p_in, p_keep)))
            out["grads_modified"].append(any(not torch.equal(a, b) for a, b in zip(g_in, g_keep)))
            out["params"].append([t.tolist() for t in new])
            current = [t.clone() for t in new]
    return out
