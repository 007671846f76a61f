"""Q4 reference: update rules, the analysis of a learning-rate sweep, and the answers.

Plain maths, numpy only at import (no torch in the grading process).
Arrays are float64 numpy arrays; update rules take and return lists of arrays
and never modify their inputs.

The sweeps themselves are the grader's experiment (``experiments/q4_batch.py``);
the reference's own sweeps (run with torch update rules mirroring the ones
below) are read from the reference cache (``reference/cache.py``), built in a
subprocess on first use. ``ANSWERS`` (``q4a_law``, ``q4b_law``, ``q4c_law``)
is the nearest law to the exponent the reference's sweeps measure, and is built
lazily on first access (module ``__getattr__``), so importing this module
neither imports torch nor builds the cache.

``q4c_law`` is keyed on the MLP + Adam sweep (``c_mlp``): part (c) repeats
part (b)'s neural-network experiment with Adam. The linear-regression + Adam
sweep (``c_linreg``) is measured and shown in the feedback too; the two
disagree (see docs/experiment_grading.md).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

__all__ = [
    "linreg_grad", "sgd_update", "adam_update", "optimal_lr", "fit_power_law",
    "LAWS", "law_of", "analyse", "SWEEPS", "ANSWER_SWEEPS", "reference_sweep",
    "reference_analysis", "answers", "ANSWERS",
    # known mistakes (hints, never accepted)
    "linreg_grad_sum", "linreg_grad_no_half", "adam_update_no_bias_correction",
    "adam_update_eps_inside_sqrt", "fit_power_law_linear_space",
]

LAWS = {1.0: "linear", 0.5: "sqrt", 0.0: "constant", -1.0: "inverse"}

# sweep name -> (task, optimizer); the same table as experiments.q4_batch.DEFAULT_SWEEPS
# (a test keeps them equal; this module must not import the torch-based experiments)
SWEEPS = {
    "a": ("linreg", "sgd"),
    "b": ("mlp", "sgd"),
    "c_linreg": ("linreg", "adam"),
    "c_mlp": ("mlp", "adam"),
}
# which sweep keys which ANSWERS entry
ANSWER_SWEEPS = {"q4a_law": "a", "q4b_law": "b", "q4c_law": "c_mlp"}


def _f64(a):
    return np.asarray(a, dtype=np.float64)


# ---------------------------------------------------------------- update rules

def linreg_grad(w, X, y):
    """Gradient of ``L(w) = mean((X @ w - y)**2) / 2``: ``X.T @ (X @ w - y) / len(y)``."""
    w, X, y = _f64(w), _f64(X), _f64(y)
    return X.T @ (X @ w - y) / len(y)


def sgd_update(params, grads, lr):
    """``[p - lr * g]`` for each pair (new arrays; inputs untouched)."""
    return [_f64(p) - float(lr) * _f64(g) for p, g in zip(params, grads)]


def adam_update(params, grads, state, lr, betas=(0.9, 0.999), eps=1e-8):
    """One step of ``torch.optim.Adam`` (defaults: no weight decay, no amsgrad).

    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g**2``, then
    ``p - lr * m_hat / (sqrt(v_hat) + eps)`` with ``m_hat = m / (1 - b1**t)``,
    ``v_hat = v / (1 - b2**t)`` (eps added after the square root of v_hat).
    ``state``: ``{}`` at the first step, then the returned dict
    ``{"step", "m", "v"}``. Returns ``(new_params, new_state)``; nothing is
    modified in place.
    """
    return _adam(params, grads, state, lr, betas, eps)


def _adam(params, grads, state, lr, betas, eps, bias_correction=True, eps_inside_sqrt=False):
    """Adam's step; the two flags reproduce common mistakes (see below)."""
    b1, b2 = (float(b) for b in betas)
    t = int(state.get("step", 0)) + 1
    ms = state.get("m") or [np.zeros_like(_f64(p)) for p in params]
    vs = state.get("v") or [np.zeros_like(_f64(p)) for p in params]
    new_p, new_m, new_v = [], [], []
    for p, g, m, v in zip(params, grads, ms, vs):
        p, g = _f64(p), _f64(g)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1 ** t) if bias_correction else m
        v_hat = v / (1 - b2 ** t) if bias_correction else v
        denom = np.sqrt(v_hat + float(eps)) if eps_inside_sqrt else np.sqrt(v_hat) + float(eps)
        new_p.append(p - float(lr) * m_hat / denom)
        new_m.append(m)
        new_v.append(v)
    return new_p, {"step": t, "m": new_m, "v": new_v}


# ---------------------------------------------------------------- analysis

def optimal_lr(lrs, final_losses):
    """The learning rate with the lowest final loss, NaN/inf (diverged) runs ignored.

    ``None`` if every run diverged. Ties go to the first (smallest index).
    """
    best, best_loss = None, math.inf
    for lr, loss in zip(lrs, final_losses):
        loss = float(loss)
        if math.isfinite(loss) and loss < best_loss:
            best, best_loss = float(lr), loss
    return best


def fit_power_law(xs, ys):
    """Least squares in log-log: ``log y = exponent * log x + log coefficient``.

    Returns ``(exponent, coefficient)``.
    """
    lx, ly = np.log(_f64(xs)), np.log(_f64(ys))
    A = np.stack([lx, np.ones_like(lx)], axis=1)
    (exponent, intercept), *_ = np.linalg.lstsq(A, ly, rcond=None)
    return float(exponent), float(np.exp(intercept))


def law_of(exponent):
    """The nearest law to a fitted exponent: 1 linear, 0.5 sqrt, 0 constant, -1 inverse."""
    if exponent is None or not math.isfinite(float(exponent)):
        return None
    return LAWS[min(LAWS, key=lambda e: (abs(float(exponent) - e), -e))]


def analyse(sweep):
    """Best learning rate per batch size and the fitted power law of a sweep.

    ``sweep`` is a result of ``experiments.q4_batch.run_sweep``. Batch sizes
    whose runs all diverged are left out of the fit (their optimum is None).
    Returns ``{"batch_sizes", "optimal_lr" (per batch size, None if all
    diverged), "fitted_batch_sizes", "exponent", "coefficient", "law"}``
    (exponent/coefficient/law None when fewer than two batch sizes remain).
    """
    lrs = [float(v) for v in sweep["lrs"]]
    bss = [int(b) for b in sweep["batch_sizes"]]
    opt = [optimal_lr(lrs, row) for row in sweep["final_loss"]]
    pts = [(b, o) for b, o in zip(bss, opt) if o is not None]
    exponent = coefficient = None
    if len({b for b, _ in pts}) >= 2:
        exponent, coefficient = fit_power_law([b for b, _ in pts], [o for _, o in pts])
    return {"batch_sizes": bss, "optimal_lr": opt, "fitted_batch_sizes": [b for b, _ in pts],
            "exponent": exponent, "coefficient": coefficient, "law": law_of(exponent)}


# ---------------------------------------------------------------- the reference's own sweeps

def reference_sweep(name):
    """The reference's sweep ``name`` (a key of SWEEPS), read from the reference cache."""
    if name not in SWEEPS:
        raise KeyError(name)
    from . import cache
    return cache.load(f"q4_{name}")


@lru_cache(maxsize=None)
def _analysis(name):
    return analyse(reference_sweep(name))


def reference_analysis(name):
    """``analyse(reference_sweep(name))`` (a fresh copy) without its ``law``: the law is the answer of
    a hidden check (``answers()``), so what public checks and feedback read stops at the exponent."""
    out = _analysis(name)
    return {k: list(v) if isinstance(v, list) else v for k, v in out.items() if k != "law"}


@lru_cache(maxsize=None)
def answers():
    """The accepted ``ANSWERS`` of Q4: the law nearest to the reference's measured exponent."""
    return {key: _analysis(name)["law"] for key, name in ANSWER_SWEEPS.items()}


def __getattr__(name):
    if name == "ANSWERS":
        return dict(answers())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------- known mistakes

def linreg_grad_sum(w, X, y):
    """Missing the 1/batch factor: the gradient of the summed (not mean) loss."""
    w, X, y = _f64(w), _f64(X), _f64(y)
    return X.T @ (X @ w - y)


def linreg_grad_no_half(w, X, y):
    """The gradient of mean(r**2) without the 1/2: twice the right one."""
    return 2 * linreg_grad(w, X, y)


def adam_update_no_bias_correction(params, grads, state, lr, betas=(0.9, 0.999), eps=1e-8):
    return _adam(params, grads, state, lr, betas, eps, bias_correction=False)


def adam_update_eps_inside_sqrt(params, grads, state, lr, betas=(0.9, 0.999), eps=1e-8):
    return _adam(params, grads, state, lr, betas, eps, eps_inside_sqrt=True)


def fit_power_law_linear_space(xs, ys):
    """A straight line fitted to (x, y) instead of (log x, log y): (slope, intercept)."""
    slope, intercept = np.polyfit(_f64(xs), _f64(ys), 1)
    return float(slope), float(intercept)
