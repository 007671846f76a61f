# expect-fail: q7.linear_quantize.clamps q7.linear_quantize.matches_reference
# hint: must be clamped to [q_min, q_max]
def linear_quantize(r, S, Z, q_min, q_max):
    r = torch.as_tensor(r, dtype=torch.float64)
    return (torch.round(r / S) + Z).to(torch.int64)
