# expect-fail: q7.answers.q7b_zero_point
# hint: r_min = S (q_min - Z) gives Z = q_min - r_min / S
ANSWERS["q7b_zero_point"] = "q_min + r_min*(q_max - q_min)/(r_max - r_min)"
