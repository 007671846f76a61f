# expect-fail: q7.linear_quant_params.matches_reference q7.linear_quantize.range_endpoints
# hint: the scale divides by q_max - q_min, not q_max + q_min
def linear_quant_params(r_min, r_max, q_min, q_max):
    S = (r_max - r_min) / (q_max + q_min)
    Z = int(round(q_min - r_min / S))
    return S, Z
