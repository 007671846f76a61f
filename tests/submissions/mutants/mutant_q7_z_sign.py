# expect-fail: q7.linear_quant_params.matches_reference q7.linear_quantize.range_endpoints
# hint: r_min = S (q_min - Z) gives Z = q_min - r_min / S
def linear_quant_params(r_min, r_max, q_min, q_max):
    S = (r_max - r_min) / (q_max - q_min)
    Z = int(round(q_min + r_min / S))
    return S, Z
