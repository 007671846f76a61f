"""HW11 checks: one module per question (``q1_lora.py`` ...), points in ``points.toml``.

``WRITTEN_KEYS`` lists every WRITTEN key of the contract, in homework order.
"""

WRITTEN_KEYS = (
    "q1b", "q1c",
    "q3a_ii", "q3b_ii", "q3e_iv", "q3e_v",
    "q4a", "q4b", "q4c",
    "q6c_i", "q6c_ii", "q6c_iii", "q6c_iv", "q6d",
    "q7a_i", "q7a_ii", "q7a_iii", "q7a_iv", "q7a_vii", "q7a_viii", "q7b_iii", "q7b_vi", "q7b_vii",
)
