"""Answers symbolic keys with code and with exponent towers."""
ANSWERS = {
    "q1d_ratio": "__import__('os').system('touch /tmp/hw11-pwned')",
    "q5b_N_opt": "9**9**9**9**9",
    "q5b_D_opt": "(lambda: C)()",
    "q7b_scale": "r_max.__class__.__mro__",
    "q7b_nbit_values": "2**n" + "**2" * 400,
    "q6b": "E" + "*E" * 2000,
    "q3e_rank_bound": "[x for x in ().__class__.__base__.__subclasses__()]",
}
