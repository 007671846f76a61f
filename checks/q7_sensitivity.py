"""Q7(a) pruning sensitivity: the homework's claims, measured with the submission's magnitude_prune.

The grader's experiment ``experiments.q7_sensitivity.sensitivity`` runs once per
grading: a small classifier (fc1, fc2, fc3) trained by the grader, each layer
pruned ALONE with the submission's ``magnitude_prune`` at sparsities
0, 0.1, ..., 0.9, 0.95, test accuracy measured. Each claim of Q7(a)(i)-(iv) is
an executable check on that result (numbers in the messages and in the
feedback file ``q7_sensitivity.txt`` / plot ``q7_sensitivity.png``):

(i)   the trained weights are centred near zero and bell-shaped, and the half of
      them your pruning removes lies close to zero;
(ii)  pruning the smallest 50 % of any one layer costs little accuracy;
(iii) accuracy stays flat up to a threshold and then falls steeply;
(iv)  layers differ in sensitivity;
and the curves match the reference's (the same pruned weights give the same
accuracy). ``ANSWERS["q7a_most_sensitive"]``: the layer the REFERENCE's run
measures as the most sensitive, by the largest total accuracy drop
(``reference.q7_sensitivity.CRITERION``); hidden.
"""
from __future__ import annotations

from hw11grader.authoring import check, expect
from hw11grader.authoring import Failed, GraderError
from reference import q7_sensitivity as ref

from . import _judging, _plots

# plots are drawn for this module's checks: the painter starts as the grading begins
on_session_start = _plots.start_painter


def warm_up():
    """The classifier the experiment prunes, trained by the grader (0.1-0.2 s; once per process),
    while the submission's process starts (``runner._while_loading``)."""
    from experiments import q7_sensitivity
    q7_sensitivity.train_model()


TIMEOUT_S = 60.0
CENTRE_MAX = 0.25          # |mean| <= CENTRE_MAX * std
WITHIN_1STD_MIN = 0.55     # Gaussian: 0.68, uniform: 0.58
KURTOSIS_MIN = -0.8        # excess kurtosis; Gaussian 0, uniform -1.2
HALF_COST_MAX = 0.02       # accuracy lost by pruning 50 % of one layer
FLAT_UNTIL = 0.6           # no layer loses more than FLAT_DROP up to this sparsity
FLAT_DROP = 0.02
STEEP_AT = 0.95            # every layer loses at least STEEP_DROP at this sparsity
STEEP_DROP = 0.1
DIFFER_RATIO = 1.5         # largest total drop >= DIFFER_RATIO x smallest
DIFFER_GAP = 0.1           # ... and at least this much larger
CURVE_ATOL = 0.0025        # 5 of the 2000 test examples
LAYER_OPTIONS = ("fc1", "fc2", "fc3")


def _result(sub):
    out = sub.experiment("q7_sensitivity.sensitivity", shared=True, timeout=TIMEOUT_S)
    keys = ("layers", "sparsities", "accuracy", "dense_accuracy", "weight_stats", "nonzero_fraction",
            "prune_stats")
    if not isinstance(out, dict) or not all(k in out for k in keys):
        raise GraderError("the grader's pruning experiment came back malformed")
    sub.feedback(_feedback, sub, out)
    return out


def _index(result, s):
    for i, v in enumerate(result["sparsities"]):
        if abs(v - s) < 1e-12:
            return i
    raise Failed(f"the grader's pruning experiment has no sparsity {s}")


def _count_problems(result, only=None):
    """Sparsities where the pruning zeroed the wrong number of weights or changed kept ones."""
    problems = []
    for name in result["layers"]:
        n = result["weight_stats"][name]["numel"]
        for i, s in enumerate(result["sparsities"]):
            if only is not None and abs(s - only) > 1e-12:
                continue
            ps = result["prune_stats"][name][i]
            want = int(round(s * n))
            if ps["zeroed"] != want:
                problems.append(f"{name} ({n} weights) at sparsity {s:g}: your magnitude_prune zeroed "
                                f"{ps['zeroed']} weights, expected round({s:g} * {n}) = {want}")
            elif ps["kept_changed"]:
                problems.append(f"{name} at sparsity {s:g}: {ps['kept_changed']} of the weights it kept "
                                "were changed (kept weights must stay exactly as they were)")
            elif ps["pruned_max_abs"] is not None and ps["kept_min_abs"] is not None \
                    and ps["pruned_max_abs"] > ps["kept_min_abs"]:
                problems.append(f"{name} at sparsity {s:g}: it zeroed a weight of magnitude "
                                f"{expect.g(ps['pruned_max_abs'])} but kept one of magnitude "
                                f"{expect.g(ps['kept_min_abs'])} (zero the SMALLEST magnitudes)")
    return problems


def _require_counts(result, claim, only=None):
    problems = _count_problems(result, only)
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        raise Failed(f"{claim} cannot be measured with your magnitude_prune (magnitude_prune(W, sparsity) "
                     "on each layer's weight W):\n    " + "\n    ".join(problems[:3]) + more)


def _drops(result):
    return {name: _judging.total_accuracy_drop(result, name) for name in result["layers"]}


# ---------------------------------------------------------------- (i)

@check("q7.sensitivity.weights_centred", uses="magnitude_prune", timeout=TIMEOUT_S)
def weights_centred(sub):
    """(i) The trained weights are centred near zero and bell-shaped; the half your magnitude_prune
    removes lies within one standard deviation of zero."""
    result = _result(sub)
    half = _index(result, 0.5)
    for name in result["layers"]:
        st = result["weight_stats"][name]
        nums = (f"{name}: mean {expect.g(st['mean'])}, std {expect.g(st['std'])}, fraction within one std "
                f"{st['frac_within_1std']:.3f}, excess kurtosis {st['excess_kurtosis']:.2f}")
        if abs(st["mean"]) > CENTRE_MAX * st["std"] or st["frac_within_1std"] < WITHIN_1STD_MIN \
                or st["excess_kurtosis"] < KURTOSIS_MIN:
            raise GraderError(f"the trained weights of {nums} are not centred near zero and bell-shaped "
                              f"(|mean| <= {CENTRE_MAX} std, >= {WITHIN_1STD_MIN} within one std, excess "
                              f"kurtosis >= {KURTOSIS_MIN})")
    _require_counts(result, "claim (i)", only=0.5)
    for name in result["layers"]:
        st = result["weight_stats"][name]
        ps = result["prune_stats"][name][half]
        if ps["pruned_max_abs"] is None or ps["pruned_max_abs"] > st["std"]:
            raise Failed(f"(i) {name}: at sparsity 0.5 your magnitude_prune zeroed weights of magnitude up to "
                         f"{expect.g(ps['pruned_max_abs'])}, more than one std ({expect.g(st['std'])}) from "
                         "zero; the smallest half of a bell-shaped layer lies within about 0.67 std")


# ---------------------------------------------------------------- (ii)

@check("q7.sensitivity.half_pruning_cheap", uses="magnitude_prune", timeout=TIMEOUT_S)
def half_pruning_cheap(sub):
    """(ii) Pruning the smallest 50 % of the weights of any one layer costs little accuracy."""
    result = _result(sub)
    _require_counts(result, "claim (ii)", only=0.5)
    half = _index(result, 0.5)
    dense = result["dense_accuracy"]
    for name in result["layers"]:
        acc = result["accuracy"][name][half]
        nz = result["nonzero_fraction"][name][half]
        if acc < dense - HALF_COST_MAX:
            raise Failed(f"(ii) {name} pruned to sparsity 0.5 with your magnitude_prune (nonzero fraction "
                         f"{nz:.4f}): test accuracy {acc:.4f}, dense {dense:.4f}: it costs "
                         f"{dense - acc:.4f}, more than {HALF_COST_MAX} (removing the smallest half costs little)")


# ---------------------------------------------------------------- (iii)

@check("q7.sensitivity.steep_drop", uses="magnitude_prune", timeout=TIMEOUT_S)
def steep_drop(sub):
    """(iii) Accuracy stays flat up to moderate sparsity, then falls steeply."""
    result = _result(sub)
    _require_counts(result, "claim (iii)")
    dense = result["dense_accuracy"]
    s = result["sparsities"]
    for name in result["layers"]:
        acc = result["accuracy"][name]
        curve = ", ".join(f"{v:g}: {a:.3f}" for v, a in zip(s, acc))
        for v, a in zip(s, acc):
            if v <= FLAT_UNTIL + 1e-12 and a < dense - FLAT_DROP:
                raise Failed(f"(iii) {name}: at sparsity {v:g} your pruned layer already loses {dense - a:.4f} "
                             f"accuracy (more than {FLAT_DROP} up to sparsity {FLAT_UNTIL}).\n    "
                             f"accuracy by sparsity: {curve} (dense {dense:.4f})")
        a = acc[_index(result, STEEP_AT)]
        if a > dense - STEEP_DROP:
            raise Failed(f"(iii) {name}: at sparsity {STEEP_AT} accuracy is still {a:.4f} (dense {dense:.4f}); "
                         f"expected a steep fall (at least {STEEP_DROP}).\n    accuracy by sparsity: {curve}")


# ---------------------------------------------------------------- (iv)

@check("q7.sensitivity.layers_differ", uses="magnitude_prune", timeout=TIMEOUT_S)
def layers_differ(sub):
    """(iv) Layers differ in sensitivity: total accuracy drops (summed over the sparsities) differ."""
    result = _result(sub)
    _require_counts(result, "claim (iv)")
    drops = _drops(result)
    shown = ", ".join(f"{n}: {d:.3f}" for n, d in drops.items())
    lo, hi = min(drops.values()), max(drops.values())
    if not (hi >= DIFFER_RATIO * lo and hi - lo >= DIFFER_GAP):
        raise Failed(f"(iv) the total accuracy drops of the layers (summed over the sparsities) are {shown}: "
                     f"expected the largest at least {DIFFER_RATIO}x and {DIFFER_GAP} above the smallest")


# ---------------------------------------------------------------- the curves themselves

@check("q7.sensitivity.matches_reference", uses="magnitude_prune", timeout=TIMEOUT_S)
def matches_reference(sub):
    """The accuracy curves with your magnitude_prune equal the reference's (within 5 test examples)."""
    result = _result(sub)
    reference = ref.reference_sensitivity()
    _require_counts(result, "the sensitivity curve")
    n_test = result.get("n_test") or 2000
    for name in reference["layers"]:
        for s, got, want in zip(reference["sparsities"], result["accuracy"][name], reference["accuracy"][name]):
            if abs(got - want) > CURVE_ATOL:
                raise Failed(f"{name} pruned to sparsity {s:g} with your magnitude_prune: test accuracy "
                             f"{got:.4f}, the reference's pruning gives {want:.4f} (tolerance {CURVE_ATOL} = "
                             f"{round(CURVE_ATOL * n_test)} of {n_test} test examples)")


# ---------------------------------------------------------------- ANSWERS (hidden)


# ---------------------------------------------------------------- feedback

def _feedback(sub, result):
    try:
        memo = sub.session.memo
        if memo.get("hw11.q7.feedback"):
            return
        memo["hw11.q7.feedback"] = True
        reference = ref.reference_sensitivity()
        drops, ref_drops = _drops(result), _drops(reference)
        _plots.q7_sensitivity(sub, "q7_sensitivity.png", result, reference, drops, ref_drops)
        dense = result["dense_accuracy"]
        lines = ["Q7(a): pruning one layer at a time with your magnitude_prune (the grader's trained model)", "",
                 f"dense test accuracy {dense:.4f} on {result.get('n_test')} test examples", "",
                 "(i) weight statistics of the trained layers:"]
        for name in result["layers"]:
            st = result["weight_stats"][name]
            ps = result["prune_stats"][name][_index(result, 0.5)]
            lines.append(f"    {name}: {st['numel']} weights, mean {st['mean']:+.4f}, std {st['std']:.4f}, "
                         f"median |w| {st['median_abs']:.4f}, within one std {st['frac_within_1std']:.3f}, "
                         f"excess kurtosis {st['excess_kurtosis']:+.2f}; at sparsity 0.5 your pruning removed "
                         f"|w| <= {expect.g(ps['pruned_max_abs'])}")
        lines += ["", "(ii)-(iii) test accuracy by sparsity (yours; the reference's in brackets where different):",
                  "    sparsity " + " ".join(f"{s:>6g}" for s in result["sparsities"])]
        for name in result["layers"]:
            cells = []
            for a, r in zip(result["accuracy"][name], reference["accuracy"][name]):
                cells.append(f"{a:6.3f}" if abs(a - r) < 1e-12 else f"{a:6.3f}[{r:.3f}]")
            lines.append(f"    {name:8s} " + " ".join(cells))
        lines += ["", "(iv) total accuracy drop (dense minus pruned accuracy, summed over the sparsities):",
                  "    " + ", ".join(f"{n}: {d:.3f}" for n, d in drops.items())]
        _plots.write_text(sub, "q7_sensitivity.txt", "\n".join(lines) + "\n")
    except Exception:  # noqa: BLE001 - feedback only
        return
