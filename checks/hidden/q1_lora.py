"""Hidden checks of q1_lora (run only at grading time; never in the student kit).

They share their helpers with the public checks in ``checks/q1_lora.py``.
"""
from hw11grader.authoring import check, given

from .._common import dims, seeds
from ..q1_lora import _grads_case


@check("q1.lora_grads.hidden_shapes", uses="lora_grads")
@given(n=dims(2, 6), k=dims(2, 4), seed=seeds())
def lora_grads_hidden_shapes(sub, n, k, seed):
    """Square W (m == l) and tall/wide factors: transposes must still be right."""
    _grads_case(sub, n, k, n, seed)
    _grads_case(sub, n + 3, k, n, seed + 1)
