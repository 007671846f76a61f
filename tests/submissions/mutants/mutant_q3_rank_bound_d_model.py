# expect-fail: q3.answers.q3e_rank_bound
ANSWERS["q3e_rank_bound"] = "d_model"
