"""Hidden checks of q6_soft_prompt (run only at grading time; never in the student kit).

They share their helpers with the public checks in ``checks/q6_soft_prompt.py``.
"""
from hw11grader.authoring import check

from ..q6_soft_prompt import _attention_case, _positions_case


@check("q6.loss_output_positions.edge_cases", uses="loss_output_positions")
def loss_output_positions_edge_cases(sub):
    """Position 1 (predicted at output 0), a single position, far-apart positions, a long run."""
    for positions in ([1], [7], [1, 2, 3], [1000, 5, 5, 1], [3, 2, 1, 2, 3], list(range(300, 0, -1))):
        _positions_case(sub, positions)


@check("q6.causal_self_attention.hidden_shapes", uses="causal_self_attention")
def causal_self_attention_hidden_shapes(sub):
    """One token, a single head dimension, d_head > d_model and a longer sequence."""
    for n, d_model, d_head, seed in [(1, 3, 2, 11), (5, 4, 1, 12), (6, 2, 5, 13), (16, 8, 3, 14)]:
        _attention_case(sub, n, d_model, d_head, seed)
