# expect-fail: q7.linear_quant_params.matches_reference q7.linear_quant_params.z_is_integer
# hint: the zero point must be rounded to an integer
def linear_quant_params(r_min, r_max, q_min, q_max):
    S = (r_max - r_min) / (q_max - q_min)
    Z = q_min - r_min / S
    return S, Z
