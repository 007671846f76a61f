# expect-fail: q1.answers.q1d_ratio
ANSWERS["q1d_ratio"] = "m*l/(k*(m + l))"
