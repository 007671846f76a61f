# expect-fail: q7.answers.q7b_scale
# hint: the scale divides by q_max - q_min, not q_max + q_min
ANSWERS["q7b_scale"] = "(r_max - r_min)/(q_max + q_min)"
