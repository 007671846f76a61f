"""HW11 checks: one module per question (``q1_lora.py`` ...), points in ``points.toml``.

``WRITTEN_KEYS`` lists every WRITTEN key of the contract, in homework order.
``CHILD_IMPORTS``: per question, what the submission's process needs for its
checks beyond what a submission imports itself.
"""

WRITTEN_KEYS = (
    "q1b", "q1c",
    "q3a_ii", "q3b_ii", "q3e_iv", "q3e_v",
    "q4a", "q4b", "q4c",
    "q6c_i", "q6c_ii", "q6c_iii", "q6c_iv", "q6d",
    "q7a_i", "q7a_ii", "q7a_iii", "q7a_iv", "q7a_vii", "q7a_viii", "q7b_iii", "q7b_vi", "q7b_vii",
)

# sympy, for the checks that call a function with sympy symbols (``_common.call_with_symbols``): the
# submission's process imports it in the background once the submission is loaded, while the first
# checks run, instead of when the first symbols arrive (hw11grader/boundary/child/child_main.py).
CHILD_IMPORTS = {"q1": ("sympy",), "q5": ("sympy",), "q6": ("sympy",), "q7": ("sympy",)}
