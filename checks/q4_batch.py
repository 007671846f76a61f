"""Q4 batch size and the optimal learning rate.

Two kinds of checks:

* unit checks of the five functions against ``reference/q4_batch.py``
  (``adam_update`` and the in-place checks run in the grader's scenario
  ``experiments.q4_batch.update_steps`` so that the submission's own state
  object stays in its process);
* the SWEEPS: the grader's experiment ``experiments.q4_batch.run_sweep`` runs
  once per grading with the submission's ``linreg_grad`` / ``sgd_update`` /
  ``adam_update`` plugged in, and its result is compared with the reference's
  own sweep (the reference cache). The submission's ``optimal_lr`` and
  ``fit_power_law`` are not used to grade a sweep: the reference's analysis is
  applied to both sweeps.

Sweep comparisons (stated in the messages too):

* final losses: relative tolerance ``LOSS_RTOL`` (plus ``LOSS_ATOL`` x the
  initial loss, for runs that reach the float floor) where both runs converged
  and the reference run made progress (final loss below the initial loss);
  where the reference run ended above its initial loss (unstable), the
  submission's run must not have made progress either; a run may diverge in
  one sweep and not in the other only next to the reference's divergence edge
  (within one grid step);
* optimal learning rate: at every batch size, the submission's best learning
  rate must be within one grid step (a factor 2**0.5) of the reference's, where
  every learning rate whose final loss is within ``TIE_RTOL`` of its sweep's
  best counts as a best one (near-ties and float reordering never flip it);
* exponent: the power law fitted to the submission's optimal learning rates
  (least squares in log-log over the batch sizes where some run converged)
  within ``EXPONENT_BAND`` of the reference's.

``ANSWERS["q4a_law"]``, ``["q4b_law"]``, ``["q4c_law"]``: the law nearest to the
exponent of the reference's sweeps a, b and c_mlp (see ``reference/q4_batch.py``
and docs/experiment_grading.md); hidden checks.
"""
from __future__ import annotations

import math

import numpy as np

from hw11grader.authoring import check, expect, given, st
from hw11grader.authoring import Failed, GraderError
from reference import q4_batch as ref

from . import _judging, _plots
from ._common import described, log_uniform, seeds

# plots are drawn for this module's checks: the painter starts as the grading begins
on_session_start = _plots.start_painter

SWEEP_TIMEOUT_S = 60.0
LOSS_RTOL = 1e-3
LOSS_ATOL = 1e-9          # x the initial loss
TIE_RTOL = 1e-3
EXPONENT_BAND = 0.15
GRID_STEP = "a factor 2**0.5"

TITLES = {
    "a": "Q4(a) linear regression + SGD",
    "b": "Q4(b) MLP + SGD",
    "c_linreg": "Q4(c) linear regression + Adam",
    "c_mlp": "Q4(c) MLP + Adam",
}
USES = {
    "a": ("linreg_grad", "sgd_update"),
    "b": ("sgd_update",),
    "c_linreg": ("linreg_grad", "adam_update"),
    "c_mlp": ("adam_update",),
}
LAW_OPTIONS = ("linear", "sqrt", "constant", "inverse")


def _rng(seed):
    return np.random.default_rng(seed)


def _same_up_to_ones(a, b):
    return [n for n in a if n != 1] == [n for n in b if n != 1]


def _like(actual, expected_shape, what):
    """A returned array as float64, reshaped when it matches up to size-1 dimensions."""
    arr, rtol = expect.as_array(actual, what=what)
    if arr.shape != tuple(expected_shape) and _same_up_to_ones(arr.shape, expected_shape):
        arr = arr.reshape(expected_shape)
    return arr, rtol


# ================================================================ linreg_grad

@check("q4.linreg_grad.matches_reference", uses="linreg_grad")
@given(n=st.integers(2, 12), d=st.integers(1, 6), seed=seeds())
def linreg_grad_matches_reference(sub, n, d, seed):
    """X.T @ (X @ w - y) / len(y): the gradient of mean((X @ w - y)**2) / 2, any batch and dimension."""
    rng = _rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    y = rng.standard_normal(n) + 0.5
    got, rtol = _like(sub.linreg_grad(w, X, y), (d,), "linreg_grad(w, X, y)")
    expected = ref.linreg_grad(w, X, y)
    where = f"linreg_grad(w, X, y) with a batch of n={n} examples in d={d} dimensions ({described(w=w, y=y)})"
    expect.close(actual=got, expected=expected, what="the gradient", where=where, rtol=rtol, mistakes={
        f"this is n={n} times the right gradient: divide by the batch size len(y) "
        "(the loss is a MEAN over the batch).": ref.linreg_grad_sum(w, X, y),
        "this is twice the right gradient: the loss has a factor 1/2, so d/dw of "
        "mean(r**2)/2 is X.T @ r / n.": ref.linreg_grad_no_half(w, X, y),
        "the sign is flipped: the gradient points uphill, X.T @ (X @ w - y) / n.": -expected,
    })


# ================================================================ sgd_update

def _param_lists(rng, count, scale=1.0):
    shapes = []
    for _ in range(count):
        kind = rng.integers(0, 3)
        if kind == 0:
            shapes.append((int(rng.integers(1, 6)),))
        elif kind == 1:
            shapes.append((int(rng.integers(1, 5)), int(rng.integers(2, 5))))
        else:
            shapes.append((2, int(rng.integers(1, 4)), int(rng.integers(1, 4))))
    params = [rng.standard_normal(s) for s in shapes]
    grads = [scale * rng.standard_normal(s) for s in shapes]
    return params, grads


@check("q4.sgd_update.matches_reference", uses="sgd_update")
@given(count=st.integers(1, 3), lr=log_uniform(1e-3, 2.0), seed=seeds())
def sgd_update_matches_reference(sub, count, lr, seed):
    """[p - lr * g] for a list of parameters of different shapes."""
    params, grads = _param_lists(_rng(seed), count)
    out = expect.parts(sub.sgd_update(params, grads, lr), count,
                       what=f"sgd_update(params, grads, lr) with {count} parameter(s) should return a list of "
                            f"{count} new tensors;")
    expected = ref.sgd_update(params, grads, lr)
    shapes = ", ".join("x".join(map(str, p.shape)) for p in params)
    where = f"sgd_update(params, grads, lr={expect.g(lr)}) with params of shapes [{shapes}]"
    for k, (o, e) in enumerate(zip(out, expected)):
        got, rtol = _like(o, e.shape, f"{where}: new params[{k}]")
        expect.close(actual=got, expected=e, what=f"new params[{k}]", where=where, rtol=rtol, mistakes={
            "this is p + lr * g: gradient descent steps AGAINST the gradient, p - lr * g.":
                params[k] + lr * grads[k],
        })


def _update_steps(sub, optimizer, params, grads_seq, lr, betas=None, eps=None):
    kwargs = {}
    if betas is not None:
        kwargs["betas"] = list(betas)
    if eps is not None:
        kwargs["eps"] = eps
    report = sub.experiment("q4_batch.update_steps", optimizer, params, grads_seq, lr, **kwargs)
    if not isinstance(report, dict) or not all(k in report for k in ("params", "params_modified",
                                                                        "grads_modified", "dtypes")):
        raise GraderError("the grader's probe of the update rule came back malformed")
    return report


def _inputs_unchanged(sub, optimizer, name, call):
    rng = _rng(12345)
    params, _ = _param_lists(rng, 2)
    grads_seq = [[rng.standard_normal(p.shape) for p in params] for _ in range(3)]
    report = _update_steps(sub, optimizer, params, grads_seq, 0.05)
    for t, (pm, gm) in enumerate(zip(report["params_modified"], report["grads_modified"]), start=1):
        changed = [w for w, flag in (("params", pm), ("grads", gm)) if flag]
        if changed:
            raise Failed(f"{call} at step {t} (lr=0.05, two parameters) modified {' and '.join(changed)} "
                         f"in place. Return NEW tensors (e.g. p - lr * g, not p -= lr * g or p.sub_(...)) and "
                         f"leave the tensors you are given unchanged: the caller may still need them.")


@check("q4.sgd_update.inputs_unchanged", uses="sgd_update")
def sgd_update_inputs_unchanged(sub):
    """sgd_update returns new tensors and leaves params and grads as they were."""
    _inputs_unchanged(sub, "sgd", "sgd_update", "sgd_update(params, grads, lr)")


# ================================================================ adam_update

def _adam_reference(params, grads_seq, lr, betas, eps, rule=ref.adam_update):
    kwargs = {}
    if betas is not None:
        kwargs["betas"] = tuple(betas)
    if eps is not None:
        kwargs["eps"] = eps
    state, current, out = {}, [p.copy() for p in params], []
    for grads in grads_seq:
        current, state = rule(current, grads, state, lr, **kwargs)
        out.append([p.copy() for p in current])
    return out


@check("q4.adam_update.matches_torch_adam", uses="adam_update")
@given(count=st.integers(1, 3), steps=st.integers(2, 5), lr=log_uniform(1e-4, 0.1),
       beta1=st.sampled_from([0.9, 0.8, 0.5, 0.95]), beta2=st.sampled_from([0.999, 0.99, 0.9]),
       eps=st.sampled_from([1e-8, 1e-6, 1e-3]), grad_scale=log_uniform(1e-5, 10.0),
       defaults=st.booleans(), seed=seeds())
def adam_update_matches_torch_adam(sub, count, steps, lr, beta1, beta2, eps, grad_scale, defaults, seed):
    """Several Adam steps exactly as torch.optim.Adam (bias correction, eps after the square root),
    the submission's own state passed back unchanged; drawn shapes, learning rates, betas, eps."""
    rng = _rng(seed)
    params, _ = _param_lists(rng, count)
    grads_seq = [[grad_scale * rng.standard_normal(p.shape) for p in params] for _ in range(steps)]
    betas, e = (None, None) if defaults else ((beta1, beta2), eps)
    report = _update_steps(sub, "adam", params, grads_seq, lr, betas=betas, eps=e)
    expected = _adam_reference(params, grads_seq, lr, betas, e)
    mistakes_runs = {
        "this is Adam without bias correction: divide m by (1 - beta1**t) and v by (1 - beta2**t) "
        "(t = 1 at the first step), as torch.optim.Adam does.":
            _adam_reference(params, grads_seq, lr, betas, e, ref.adam_update_no_bias_correction),
        "eps belongs outside the square root: m_hat / (sqrt(v_hat) + eps).":
            _adam_reference(params, grads_seq, lr, betas, e, ref.adam_update_eps_inside_sqrt),
    }
    low = any(str(d) in ("float32", "float16", "bfloat16") for ds in report["dtypes"] for d in ds)
    rtol = 1e-3 if low else 1e-6
    hyper = "default betas and eps" if defaults else f"betas=({beta1:g}, {beta2:g}), eps={eps:g}"
    shapes = ", ".join("x".join(map(str, p.shape)) for p in params)
    where = (f"adam_update over {steps} steps from state {{}} with lr={expect.g(lr)}, {hyper}, "
             f"params of shapes [{shapes}], gradients of scale {expect.g(grad_scale)}")
    if len(report["params"]) != steps:
        raise Failed(f"{where}: the probe recorded {len(report['params'])} steps, expected {steps}")
    for t in range(steps):
        for k, p0 in enumerate(params):
            got = np.asarray(report["params"][t][k], dtype=np.float64).reshape(p0.shape)
            mistakes = {hint: run[t][k] - p0 for hint, run in mistakes_runs.items()}
            expect.close(actual=got - p0, expected=expected[t][k] - p0, rtol=rtol,
                         what=f"the change of params[{k}] after step {t + 1} (new params - initial params)",
                         where=where, mistakes=mistakes)


@check("q4.adam_update.inputs_unchanged", uses="adam_update")
def adam_update_inputs_unchanged(sub):
    """adam_update returns new tensors and leaves params and grads as they were."""
    _inputs_unchanged(sub, "adam", "adam_update", "adam_update(params, grads, state, lr)")


# ================================================================ optimal_lr

def _show_list(values):
    return "[" + ", ".join(expect.g(v) for v in values) + "]"


def _optimal_case(sub, lrs, losses, where_note=""):
    got = sub.optimal_lr(lrs, losses)
    expected = ref.optimal_lr(lrs, losses)
    where = f"optimal_lr(lrs={_show_list(lrs)}, final_losses={_show_list(losses)}){where_note}"
    if expected is None:
        if got is not None:
            raise Failed(f"{where}: got {expect.show(got)}, expected None (every run diverged: "
                         "there is no optimal learning rate)")
        return
    if got is None:
        raise Failed(f"{where}: got None, expected {expect.g(expected)} (some runs converged)")
    value, _ = expect.as_array(got, what=f"{where}: the result")
    if value.size != 1:
        raise Failed(f"{where}: expected one learning rate, got {expect.show(value)}")
    value = float(value.reshape(()))
    hint = ""
    for lr, loss in zip(lrs, losses):
        if abs(value - lr) <= 1e-12 * abs(lr) and not math.isfinite(loss):
            hint = (f"\n    Hint: lr={expect.g(lr)} is a diverged run (its final loss is {expect.g(loss)}); "
                    "ignore NaN and inf losses (math.isfinite), e.g. np.nanargmin is not enough for inf, "
                    "and np.argmin picks a NaN.")
    if abs(value - expected) > 1e-12 * abs(expected):
        raise Failed(f"{where}: got {expect.g(value)}, expected {expect.g(expected)}{hint}")


@st.composite
def sweep_rows(draw):
    n = draw(st.integers(2, 10))
    lrs = sorted({round(2.0 ** (draw(st.integers(-28, 4)) / 2), 12) for _ in range(n)})
    if len(lrs) < 2:
        lrs = [0.01, 0.1]
    losses = []
    for _ in lrs:
        kind = draw(st.integers(0, 5))
        if kind == 0:
            losses.append(math.nan)
        elif kind == 1:
            losses.append(math.inf)
        else:
            losses.append(draw(st.integers(1, 10**6)) / 997.0 + draw(st.integers(0, 999)) * 1e-9)
    if all(not math.isfinite(v) for v in losses):
        losses[draw(st.integers(0, len(losses) - 1))] = 0.25
    finite = [v for v in losses if math.isfinite(v)]
    if len(set(finite)) != len(finite):          # distinct finite losses: no ties
        losses = [v + 1e-6 * i if math.isfinite(v) else v for i, v in enumerate(losses)]
    order = draw(st.permutations(range(len(lrs))))
    return [lrs[i] for i in order], [losses[i] for i in order]


@check("q4.optimal_lr.matches_reference", uses="optimal_lr")
@given(row=sweep_rows())
def optimal_lr_matches_reference(sub, row):
    """The learning rate of the lowest final loss, NaN/inf runs ignored (unsorted grids too)."""
    lrs, losses = row
    _optimal_case(sub, lrs, losses)


@check("q4.optimal_lr.diverged_runs", uses="optimal_lr")
def optimal_lr_diverged_runs(sub):
    """Diverged runs (NaN or inf) are never optimal; None when every run diverged."""
    nan, inf = math.nan, math.inf
    cases = [
        ([0.01, 0.02, 0.04, 0.08], [nan, 0.5, 0.2, 0.3]),
        ([0.01, 0.02, 0.04, 0.08], [0.9, 0.4, inf, nan]),
        ([0.08, 0.04, 0.02, 0.01], [inf, 0.3, nan, 0.35]),
        ([0.1, 0.2, 0.4], [0.7, nan, nan]),
        ([0.1, 0.2, 0.4], [nan, nan, nan]),
        ([0.1, 0.2, 0.4], [inf, inf, inf]),
        ([0.1, 0.2, 0.4, 0.8], [nan, inf, nan, inf]),
    ]
    for lrs, losses in cases:
        _optimal_case(sub, lrs, losses)


# ================================================================ fit_power_law

def _fit_pair(sub, xs, ys, where):
    out = expect.parts(sub.fit_power_law(xs, ys), 2,
                       what=f"{where} should return (exponent, coefficient) and")
    vals = []
    for part, name in zip(out, ("exponent", "coefficient")):
        arr, _ = expect.as_array(part, what=f"{where}: the {name}")
        if arr.size != 1:
            raise Failed(f"{where}: the {name} should be one number, got {expect.show(arr)}")
        vals.append(float(arr.reshape(())))
    return vals


def _fit_compare(sub, xs, ys, exp_e, exp_c, where, tol):
    got_e, got_c = _fit_pair(sub, xs, ys, where)
    wrong = ref.fit_power_law_linear_space(xs, ys)
    hint = ""
    if abs(got_e - wrong[0]) <= 1e-6 * (1 + abs(wrong[0])):
        hint = ("\n    Hint: this is a straight line through (x, y); fit a line through (log x, log y): "
                "its slope is the exponent and exp(intercept) the coefficient.")
    if not (math.isfinite(got_e) and abs(got_e - exp_e) <= tol * (1 + abs(exp_e))):
        raise Failed(f"{where}: exponent {expect.g(got_e)}, expected {expect.g(exp_e)} "
                     f"(tolerance {tol:g} x (1 + |exponent|)){hint}")
    if not (math.isfinite(got_c) and abs(got_c - exp_c) <= tol * abs(exp_c)):
        raise Failed(f"{where}: coefficient {expect.g(got_c)}, expected {expect.g(exp_c)} "
                     f"(relative tolerance {tol:g}); return exp(intercept), not the intercept of log y{hint}")


@check("q4.fit_power_law.exact_recovery", uses="fit_power_law")
@given(n=st.integers(2, 8), exponent=st.integers(-200, 200).map(lambda i: i / 100),
       log10_c=st.integers(-300, 300).map(lambda i: i / 100), seed=seeds())
def fit_power_law_exact_recovery(sub, n, exponent, log10_c, seed):
    """On exact power-law data y = c * x**e the fit returns (e, c)."""
    rng = _rng(seed)
    xs = sorted({float(v) for v in np.round(2.0 ** rng.uniform(0, 10, size=n), 6)})
    if len(xs) < 2:
        xs = [1.0, 8.0]
    c = 10.0 ** log10_c
    ys = [c * x ** exponent for x in xs]
    where = f"fit_power_law(xs={_show_list(xs)}, ys={_show_list(ys)}) on y = {c:.7g} * x**{exponent:g}"
    _fit_compare(sub, xs, ys, exponent, c, where, 1e-6)


@check("q4.fit_power_law.least_squares", uses="fit_power_law")
@given(n=st.integers(3, 8), seed=seeds())
def fit_power_law_least_squares(sub, n, seed):
    """On scattered data: the least-squares line through (log x, log y)."""
    rng = _rng(seed)
    xs = [float(2 ** k) for k in range(2, 2 + n)]
    e = float(rng.uniform(-1.2, 1.2))
    ys = [0.01 * x ** e * float(np.exp(rng.normal(0, 0.3))) for x in xs]
    exp_e, exp_c = ref.fit_power_law(xs, ys)
    where = f"fit_power_law(xs={_show_list(xs)}, ys={_show_list(ys)})"
    _fit_compare(sub, xs, ys, exp_e, exp_c, where, 1e-6)


# ================================================================ the sweeps

def _matrix(rows):
    arr = np.array([[math.inf if (v is None or not math.isfinite(float(v))) else float(v) for v in row]
                    for row in rows], dtype=np.float64)
    return arr


def _student_sweep(sub, name):
    """The submission's sweep (run once per grading) and the reference's, validated.

    The submission's sweep is asked for FIRST: a cold reference cache is then built
    after the call, never eating into the call's time budget.
    """
    task, optimizer = ref.SWEEPS[name]
    s = sub.experiment("q4_batch.run_sweep", task, optimizer, shared=True, timeout=SWEEP_TIMEOUT_S)
    reference = ref.reference_sweep(name)
    ok = (isinstance(s, dict) and all(k in s for k in ("lrs", "batch_sizes", "final_loss", "diverged"))
          and s["lrs"] == reference["lrs"] and s["batch_sizes"] == reference["batch_sizes"]
          and len(s["final_loss"]) == len(s["batch_sizes"])
          and all(isinstance(r, list) and len(r) == len(s["lrs"]) for r in s["final_loss"]))
    if not ok:
        raise GraderError(f"the grader's sweep ({TITLES[name]}) came back malformed")
    sub.feedback(_feedback, sub, name, s, reference)
    return s, reference


def _near_best(row, atol):
    """Indices whose loss is within TIE_RTOL (plus atol) of the row's best finite loss."""
    finite = np.isfinite(row)
    if not finite.any():
        return []
    best = float(row[finite].min())
    return [j for j in range(len(row)) if finite[j] and row[j] <= best * (1 + TIE_RTOL) + atol]


def _edge(div_row, j):
    return any(0 <= k < len(div_row) and div_row[k] != div_row[j] for k in (j - 1, j + 1))


def departures(student, reference):
    """Where a sweep departs from the reference's: a list of dicts (batch size, lr, got, expected, why)."""
    S, R = _matrix(student["final_loss"]), _matrix(reference["final_loss"])
    init = float(reference["initial_loss"])
    atol = LOSS_ATOL * init
    out = []
    for i, b in enumerate(reference["batch_sizes"]):
        rdiv = [not math.isfinite(v) for v in R[i]]
        for j, lr in enumerate(reference["lrs"]):
            a, e = S[i, j], R[i, j]
            why = None
            if math.isfinite(a) and math.isfinite(e):
                if e <= init:
                    if abs(a - e) > LOSS_RTOL * e + atol:
                        why = "loss"
                elif a < 0.5 * init:
                    why = "progress"
            elif math.isfinite(e):          # the submission diverged, the reference did not
                if e <= init and not _edge(rdiv, j):
                    why = "diverged"
            elif math.isfinite(a):          # the reference diverged, the submission did not
                if not _edge(rdiv, j):
                    why = "converged"
            if why:
                out.append({"i": i, "j": j, "B": b, "lr": lr, "got": a, "expected": e, "why": why})
    return out


def _describe(d):
    at = f"lr={expect.g(d['lr'])}"
    if d["why"] == "loss":
        rel = abs(d["got"] - d["expected"]) / d["expected"] if d["expected"] else math.inf
        return (f"{at}: final loss {expect.g(d['got'])}, reference {expect.g(d['expected'])} "
                f"(relative difference {rel:.2g})")
    if d["why"] == "progress":
        return (f"{at}: final loss {expect.g(d['got'])}, but the reference run is unstable there "
                f"(final loss {expect.g(d['expected'])}, above the initial loss)")
    if d["why"] == "diverged":
        return f"{at}: your run diverged, the reference's reached {expect.g(d['expected'])}"
    return f"{at}: your run reached {expect.g(d['got'])}, the reference's diverged"


def _optima(sweep):
    return _judging.sweep_analysis(sweep)["optimal_lr"]


def _optima_line(student, reference):
    own, theirs = _optima(student), _optima(reference)
    parts = []
    for b, o, r in zip(reference["batch_sizes"], own, theirs):
        parts.append(f"B={b}: {expect.g(o) if o is not None else 'none (all diverged)'} vs {expect.g(r)}")
    return "best learning rate per batch size, yours vs the reference's: " + "; ".join(parts)


def _pattern_hint(name, student, reference):
    """A hint from the shape of the departure (never a verdict)."""
    S = _matrix(student["final_loss"])
    init = float(reference["initial_loss"])
    finite = S[np.isfinite(S)]
    optimizer = ref.SWEEPS[name][1]
    if finite.size == 0 or finite.min() >= init:
        rule = "sgd_update must return p - lr * g" if optimizer == "sgd" else "adam_update must subtract its step"
        first = S[:, 0]      # the smallest learning rate, per batch size
        grows = (not np.isfinite(first[-1])) or (np.isfinite(first[0]) and first[-1] > 10 * first[0])
        if grows and ref.SWEEPS[name][0] == "linreg":
            return ("no run of your sweep makes progress, and it gets worse as the batch size grows "
                    f"(smallest learning rate: final loss {expect.g(first[0])} at B={reference['batch_sizes'][0]}, "
                    f"{expect.g(first[-1])} at B={reference['batch_sizes'][-1]}): your step grows with the batch "
                    "size, e.g. a gradient summed over the batch instead of averaged (divide by len(y)).")
        return ("no run of your sweep makes progress (every run diverges or ends above the initial loss "
                f"{expect.g(init)}): the updates go uphill ({rule}), or they are far too large.")
    own, theirs = _optima(student), _optima(reference)
    pairs = [(math.log2(b), math.log2(r / o)) for b, o, r in zip(reference["batch_sizes"], own, theirs)
             if o is not None and r is not None]
    if len(pairs) >= 3:
        shifts = [s for _, s in pairs]
        if min(shifts) >= 1.0:      # yours at least two grid steps smaller everywhere
            xs = np.array([p[0] for p in pairs])
            slope = float(np.polyfit(xs, np.array(shifts), 1)[0])
            if slope > 0.6:
                return ("your best learning rate is smaller than the reference's by a factor that grows "
                        "with the batch size (about B): your steps scale with the batch size, e.g. a "
                        "gradient summed over the batch instead of averaged (divide by len(y)).")
            factor = 2 ** float(np.mean(shifts))
            extra = (" e.g. Adam without bias correction takes steps several times too large early on."
                     if optimizer == "adam" else "")
            return (f"your best learning rate is about {factor:.2g}x smaller than the reference's at every "
                    f"batch size: your steps are that much larger for the same learning rate.{extra}")
        if max(shifts) <= -1.0:
            factor = 2 ** float(-np.mean(shifts))
            return (f"your best learning rate is about {factor:.2g}x larger than the reference's at every "
                    "batch size: your steps are that much smaller for the same learning rate.")
    return ""


def _with_hint(message, hint):
    return f"{message}\n    Hint: {hint}" if hint else message


def _check_losses(sub, name):
    student, reference = _student_sweep(sub, name)
    deps = departures(student, reference)
    if not deps:
        return
    total = len(reference["batch_sizes"]) * len(reference["lrs"])
    lines = [f"{TITLES[name]}: your sweep (the grader's experiment with your update rules) departs from "
             f"the reference's at {len(deps)} of {total} runs. Where (at most 3 per batch size):"]
    for b in reference["batch_sizes"]:
        mine = [d for d in deps if d["B"] == b]
        if mine:
            more = f" (+{len(mine) - 3} more)" if len(mine) > 3 else ""
            lines.append(f"    B={b}: " + "; ".join(_describe(d) for d in mine[:3]) + more)
    lines.append("    " + _optima_line(student, reference))
    lines.append(f"    (compared: final losses with relative tolerance {LOSS_RTOL:g} where both runs converged "
                 "and the reference run made progress; diverging in one sweep only is allowed next to the "
                 "reference's divergence edge)")
    raise Failed(_with_hint("\n".join(lines), _pattern_hint(name, student, reference)))


def _check_optimal(sub, name):
    student, reference = _student_sweep(sub, name)
    S, R = _matrix(student["final_loss"]), _matrix(reference["final_loss"])
    atol = LOSS_ATOL * float(reference["initial_loss"])
    bad = []
    for i, b in enumerate(reference["batch_sizes"]):
        theirs = _near_best(R[i], atol)
        if not theirs:
            continue
        mine = _near_best(S[i], atol)
        lrs = reference["lrs"]
        r = min(theirs, key=lambda j: R[i, j])
        if not mine:
            bad.append(f"B={b}: every run of yours diverged; the reference's best is lr={expect.g(lrs[r])} "
                       f"(final loss {expect.g(R[i, r])})")
            continue
        if min(abs(m - t) for m in mine for t in theirs) <= 1:
            continue
        s = min(mine, key=lambda j: S[i, j])
        bad.append(f"B={b}: your best lr={expect.g(lrs[s])} (final loss {expect.g(S[i, s])}), the reference's "
                   f"lr={expect.g(lrs[r])} (final loss {expect.g(R[i, r])}; yours there: {expect.g(S[i, r])})")
    if bad:
        msg = (f"{TITLES[name]}: the best learning rate of your sweep is more than one grid step ({GRID_STEP}) "
               f"from the reference's at {len(bad)} of {len(reference['batch_sizes'])} batch sizes "
               f"(learning rates within {TIE_RTOL:g} of the best final loss count as equally good):\n    "
               + "\n    ".join(bad))
        raise Failed(_with_hint(msg, _pattern_hint(name, student, reference)))


def _e(x):
    """An exponent for a message (never '-0.000')."""
    return f"{round(float(x), 3) + 0.0:.3f}"


def _check_exponent(sub, name):
    student, reference = _student_sweep(sub, name)
    own, theirs = _judging.sweep_analysis(student), ref.reference_analysis(name)
    line = _optima_line(student, reference)
    if own["exponent"] is None:
        raise Failed(f"{TITLES[name]}: no power law can be fitted to your sweep: fewer than two batch sizes "
                     f"have a run that converged.\n    {line}")
    if abs(own["exponent"] - theirs["exponent"]) > EXPONENT_BAND:
        msg = (f"{TITLES[name]}: the best learning rate of your sweep grows like B**{_e(own['exponent'])} "
               f"(least squares in log-log over B={', '.join(map(str, own['fitted_batch_sizes']))}); the "
               f"reference's sweep gives B**{_e(theirs['exponent'])} (accepted band +-{EXPONENT_BAND:g}).\n    {line}")
        raise Failed(_with_hint(msg, _pattern_hint(name, student, reference)))


# The sweep checks: one per sweep of ref.SWEEPS and comparison. Their docstrings spell out LOSS_RTOL
# (0.001) and EXPONENT_BAND (0.15): change them with those constants.

@check("q4.sweep_a.final_losses", uses=USES["a"], timeout=SWEEP_TIMEOUT_S)
def sweep_a_final_losses(sub):
    """Q4(a) linear regression + SGD: the grader's sweep with your update rules matches the reference's final losses (rel. 0.001 where both converged)."""
    _check_losses(sub, "a")


@check("q4.sweep_a.optimal_lr", uses=USES["a"], timeout=SWEEP_TIMEOUT_S)
def sweep_a_optimal_lr(sub):
    """Q4(a) linear regression + SGD: the best learning rate per batch size within one grid step of the reference's."""
    _check_optimal(sub, "a")


@check("q4.sweep_a.exponent", uses=USES["a"], timeout=SWEEP_TIMEOUT_S)
def sweep_a_exponent(sub):
    """Q4(a) linear regression + SGD: the fitted exponent of the optimal learning rate within +-0.15 of the reference's."""
    _check_exponent(sub, "a")


@check("q4.sweep_b.final_losses", uses=USES["b"], timeout=SWEEP_TIMEOUT_S)
def sweep_b_final_losses(sub):
    """Q4(b) MLP + SGD: the grader's sweep with your update rules matches the reference's final losses (rel. 0.001 where both converged)."""
    _check_losses(sub, "b")


@check("q4.sweep_b.optimal_lr", uses=USES["b"], timeout=SWEEP_TIMEOUT_S)
def sweep_b_optimal_lr(sub):
    """Q4(b) MLP + SGD: the best learning rate per batch size within one grid step of the reference's."""
    _check_optimal(sub, "b")


@check("q4.sweep_b.exponent", uses=USES["b"], timeout=SWEEP_TIMEOUT_S)
def sweep_b_exponent(sub):
    """Q4(b) MLP + SGD: the fitted exponent of the optimal learning rate within +-0.15 of the reference's."""
    _check_exponent(sub, "b")


@check("q4.sweep_c_linreg.final_losses", uses=USES["c_linreg"], timeout=SWEEP_TIMEOUT_S)
def sweep_c_linreg_final_losses(sub):
    """Q4(c) linear regression + Adam: the grader's sweep with your update rules matches the reference's final losses (rel. 0.001 where both converged)."""
    _check_losses(sub, "c_linreg")


@check("q4.sweep_c_linreg.optimal_lr", uses=USES["c_linreg"], timeout=SWEEP_TIMEOUT_S)
def sweep_c_linreg_optimal_lr(sub):
    """Q4(c) linear regression + Adam: the best learning rate per batch size within one grid step of the reference's."""
    _check_optimal(sub, "c_linreg")


@check("q4.sweep_c_linreg.exponent", uses=USES["c_linreg"], timeout=SWEEP_TIMEOUT_S)
def sweep_c_linreg_exponent(sub):
    """Q4(c) linear regression + Adam: the fitted exponent of the optimal learning rate within +-0.15 of the reference's."""
    _check_exponent(sub, "c_linreg")


@check("q4.sweep_c_mlp.final_losses", uses=USES["c_mlp"], timeout=SWEEP_TIMEOUT_S)
def sweep_c_mlp_final_losses(sub):
    """Q4(c) MLP + Adam: the grader's sweep with your update rules matches the reference's final losses (rel. 0.001 where both converged)."""
    _check_losses(sub, "c_mlp")


@check("q4.sweep_c_mlp.optimal_lr", uses=USES["c_mlp"], timeout=SWEEP_TIMEOUT_S)
def sweep_c_mlp_optimal_lr(sub):
    """Q4(c) MLP + Adam: the best learning rate per batch size within one grid step of the reference's."""
    _check_optimal(sub, "c_mlp")


@check("q4.sweep_c_mlp.exponent", uses=USES["c_mlp"], timeout=SWEEP_TIMEOUT_S)
def sweep_c_mlp_exponent(sub):
    """Q4(c) MLP + Adam: the fitted exponent of the optimal learning rate within +-0.15 of the reference's."""
    _check_exponent(sub, "c_mlp")


# ---------------------------------------------------------------- feedback

_SUMMARY_KEY = "hw11.q4.exponents"


def _feedback(sub, name, student, reference):
    """The sweep's plot, and a text file of the exponents measured so far (never raises)."""
    try:
        own = _judging.sweep_analysis(student)
        theirs = ref.reference_analysis(name)
    except Exception:  # noqa: BLE001 - feedback only
        return
    _plots.q4_sweep(sub, f"q4{name}_sweep.png", f"{TITLES[name]}: your sweep vs the reference's",
                    student, reference, own, theirs)
    try:
        summary = sub.session.memo.setdefault(_SUMMARY_KEY, {})
        if name in summary:
            return
        summary[name] = (own, theirs)
        lines = ["Q4: the optimal learning rate vs the batch size, measured on your sweeps",
                 "(the grader's experiments with your update rules; exponent of a least-squares",
                 " power law fitted in log-log; the reference's in brackets)", ""]
        for key in ref.SWEEPS:
            if key not in summary:
                continue
            o, t = summary[key]
            exp_o = _e(o["exponent"]) if o["exponent"] is not None else "n/a"
            optima = ", ".join(f"B={b}: {expect.g(v) if v is not None else '-'}"
                               for b, v in zip(o["batch_sizes"], o["optimal_lr"]))
            lines.append(f"{TITLES[key]:34s} exponent {exp_o} [{_e(t['exponent'])}]   best lr: {optima}")
        _plots.write_text(sub, "q4_exponents.txt", "\n".join(lines) + "\n")
    except Exception:  # noqa: BLE001
        return


# ================================================================ ANSWERS (hidden)


