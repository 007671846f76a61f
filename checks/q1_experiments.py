"""Q1 LoRA as experiments: the homework's claims (b), (c) and (a), run with the submission's functions.

The grader's experiment ``experiments.q1_lora.train_lora`` fits
``W = W0 + A @ B`` to a target ``W* = W0 + Delta`` with ``rank(Delta) = 6``
(loss ``|W - W*|_F^2 / 2``), by gradient descent whose gradients come from the
submission's ``lora_grads``; each run happens once per grading (shared).
Eckart-Young tails (the best loss any rank-k update can reach) and the loss at
W0 are the reference's, from the reference cache.

* (b) both factors zero: W never leaves W0;
* (c) both factors random: training starts ABOVE the loss at W0 (the random
  product damages the pretrained W0), even though it still trains;
* (a) with the submission's ``lora_init``: a higher rank k lowers the best loss;
  below the target's rank each k reaches the Eckart-Young tail, and k >= rank
  beats every smaller rank.
"""
from __future__ import annotations

from hw11grader.authoring import check, expect
from hw11grader.authoring import Failed, GraderError
from reference import cache

from . import _plots

# plots are drawn for this module's checks: the painter starts as the grading begins
on_session_start = _plots.start_painter

TIMEOUT_S = 30.0
TAIL_RTOL = 1e-3     # "reaches the Eckart-Young tail": best loss <= tail * (1 + TAIL_RTOL) (+ a float floor)
FLOOR = 1e-9         # x the loss at W0


def _reference():
    return cache.load("q1_scenarios")


def _run(sub, init):
    out = sub.experiment("q1_lora.train_lora", init, shared=True, timeout=TIMEOUT_S)
    keys = ("loss_at_W0", "initial_loss", "final_loss", "best_loss", "W_equals_W0", "W_max_change", "k")
    if not isinstance(out, dict) or not all(k in out for k in keys):
        raise GraderError("the grader's LoRA training experiment came back malformed")
    return out


def _sweep(sub):
    out = sub.experiment("q1_lora.rank_sweep", shared=True, timeout=TIMEOUT_S)
    keys = ("ranks", "best_loss", "initial_loss", "loss_at_W0", "target_rank", "diverged")
    if not isinstance(out, dict) or not all(k in out for k in keys):
        raise GraderError("the grader's LoRA rank sweep came back malformed")
    return out


@check("q1.experiment.zero_init_stays_at_W0", uses="lora_grads", timeout=TIMEOUT_S)
def zero_init_stays_at_W0(sub):
    """(b) With A = 0 and B = 0, training with your lora_grads never moves W away from W0."""
    run = _run(sub, "zero_zero")
    L0 = _reference()["zero_zero"]["loss_at_W0"]
    if not run["W_equals_W0"] or run["final_loss"] != L0:
        raise Failed(f"training from A = 0 and B = 0 (k={run['k']}, {run.get('steps')} steps) with your "
                     f"lora_grads moved W away from W0 (largest |W - W0| entry {expect.g(run['W_max_change'])}; "
                     f"final loss {expect.g(run['final_loss'])}, loss at W0 {expect.g(L0)}). At A = B = 0 both "
                     "dA = G @ B.T and dB = A.T @ G are zero, so gradient descent cannot move them: your "
                     "lora_grads returned non-zero gradients there.")


@check("q1.experiment.random_init_starts_higher", uses="lora_grads", timeout=TIMEOUT_S)
def random_init_starts_higher(sub):
    """(c) With both factors random, training starts above the loss at W0 (W0 is damaged);
    gradient descent with your lora_grads then still reaches the best rank-k loss."""
    run = _run(sub, "random_random")
    reference = _reference()["random_random"]
    L0, tail = reference["loss_at_W0"], reference["eckart_young"]
    start = run["initial_loss"]
    where = f"both A and B random (Xavier-uniform, k={run['k']})"
    if not start > L0:
        raise GraderError(f"{where}: the initial loss {expect.g(start)} is not above the loss at W0 "
                          f"({expect.g(L0)}): the grader's own random factors are wrong")
    best = run["best_loss"]
    if not best <= tail * (1 + TAIL_RTOL) + FLOOR * L0:
        raise Failed(f"{where}: the loss starts at {expect.g(start)}, above the loss at W0 ({expect.g(L0)}), "
                     f"and gradient descent with your lora_grads should then reach the best rank-{run['k']} loss "
                     f"{expect.g(tail)} (Eckart-Young); it reached {expect.g(best)} at best"
                     f"{' (it diverged)' if run.get('diverged') else ''}. Check lora_grads: dA = G @ B.T, "
                     "dB = A.T @ G.")


@check("q1.experiment.rank_sweep", uses=("lora_init", "lora_grads"), timeout=TIMEOUT_S)
def rank_sweep(sub):
    """(a) With your lora_init and lora_grads: a higher rank k lowers the best loss; below the target's
    rank each k reaches the Eckart-Young tail; k >= the target's rank beats every smaller rank."""
    sweep = _sweep(sub)
    reference = _reference()["rank_sweep"]
    sub.feedback(_feedback, sub, sweep, reference)
    ranks, tails, L0 = reference["ranks"], reference["eckart_young"], reference["loss_at_W0"]
    r = reference["target_rank"]
    if sweep["ranks"] != ranks or len(sweep["best_loss"]) != len(ranks):
        raise GraderError("the grader's LoRA rank sweep came back malformed")
    best = sweep["best_loss"]
    # a tail at rounding level (k >= the target's rank: exactly 0 in exact arithmetic) is shown as 0,
    # so that the message is the same on every machine
    shown = [0.0 if t <= FLOOR * L0 else t for t in tails]
    table = ", ".join(f"k={k}: {expect.g(b)} (tail {expect.g(t)})" for k, b, t in zip(ranks, best, shown))
    where = (f"the rank sweep on a rank-{r} target with your lora_init and lora_grads "
             f"(best loss per rank: {table})")
    for k, start in zip(ranks, sweep["initial_loss"]):
        if abs(start - L0) > 1e-9 * L0:
            raise Failed(f"{where}: at k={k} training starts at loss {expect.g(start)}, not at the loss at W0 "
                         f"({expect.g(L0)}): lora_init's A @ B must be exactly zero")
    floor = FLOOR * L0
    for k, b, t in zip(ranks, best, tails):
        if k < r and not b <= t * (1 + TAIL_RTOL) + floor:
            raise Failed(f"{where}: rank k={k} reached {expect.g(b)}, not the Eckart-Young tail {expect.g(t)} "
                         f"(the best any rank-{k} update can do; tolerance {TAIL_RTOL:g} relative).")
    for (k1, b1), (k2, b2) in zip(zip(ranks, best), zip(ranks[1:], best[1:])):
        if not (b2 < b1 or max(b1, b2) <= floor):
            raise Failed(f"{where}: rank k={k2} does not lower the best loss below that of k={k1} "
                         f"({expect.g(b2)} vs {expect.g(b1)}).")
    below = [(k, t) for k, t in zip(ranks, tails) if k < r]
    if below:
        k_low, t_low = below[-1]
        for k, b in zip(ranks, best):
            if k >= r and not b < t_low:
                raise Failed(f"{where}: rank k={k} >= {r} reached only {expect.g(b)}, not below the best any "
                             f"rank-{k_low} update can reach ({expect.g(t_low)}).")


def _feedback(sub, sweep, reference):
    try:
        runs = {}
        for init, label in (("zero_zero", "A = B = 0"), ("random_random", "A, B both random")):
            try:
                runs[label] = _run(sub, init)
            except Exception:  # noqa: BLE001 - feedback only
                runs[label] = None
        _plots.q1_experiments(sub, "q1_experiments.png", runs, sweep, reference["eckart_young"])
        lines = ["Q1: LoRA experiments with your lora_init and lora_grads", ""]
        for label, run in runs.items():
            if run is not None:
                lines.append(f"{label}: loss at W0 {run['loss_at_W0']:.4f}, initial {run['initial_loss']:.4f}, "
                             f"best {run['best_loss']:.4g}, W stayed at W0: {run['W_equals_W0']}")
        lines.append("")
        lines.append(f"rank sweep (target rank {sweep.get('target_rank')}):")
        for k, b, t in zip(sweep["ranks"], sweep["best_loss"], reference["eckart_young"]):
            lines.append(f"    k={k}: best loss {b:.6g}   Eckart-Young tail {t:.6g}")
        _plots.write_text(sub, "q1_experiments.txt", "\n".join(lines) + "\n")
    except Exception:  # noqa: BLE001
        return
