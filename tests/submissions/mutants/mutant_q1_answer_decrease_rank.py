# expect-fail: q1.answers.q1a
ANSWERS["q1a"] = "decrease_rank"
