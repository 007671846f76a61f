# expect-fail: q6.answers.q6a
# hint: targets are the inputs shifted left by one
ANSWERS["q6a"] = list(range(51, 73))
