"""Hidden checks of q7_sensitivity (run only at grading time; never in the student kit).

They share their helpers with the public checks in ``checks/q7_sensitivity.py``.
"""
from hw11grader.authoring import check, expect
from hw11grader.authoring import Failed
from reference import q7_sensitivity as ref

from ..q7_sensitivity import LAYER_OPTIONS, _drops


@check("q7.answers.q7a_most_sensitive", answers="q7a_most_sensitive")
def answer_q7a_most_sensitive(sub):
    """The layer whose pruning costs the most accuracy in the grader's model (largest total drop)."""
    got = sub.answer("q7a_most_sensitive")
    expected = ref.answers()["q7a_most_sensitive"]
    if isinstance(got, str) and got in LAYER_OPTIONS and got != expected:
        drops = _drops(ref.reference_sensitivity())
        raise Failed('ANSWERS["q7a_most_sensitive"]: ' + repr(got) + " is not the most sensitive layer of the "
                     "grader's model: total accuracy drops (dense minus pruned accuracy, summed over the "
                     "sparsities 0 .. 0.95) " + ", ".join(f"{n}: {d:.3f}" for n, d in drops.items()))
    expect.choice(actual=got, expected=expected, options=LAYER_OPTIONS, what='ANSWERS["q7a_most_sensitive"]')
