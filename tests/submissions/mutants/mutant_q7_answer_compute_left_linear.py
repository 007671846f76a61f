# expect-fail: q7.answers.q7a_compute_left
# hint: not 1 - p
ANSWERS["q7a_compute_left"] = 0.7
