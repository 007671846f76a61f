# expect-fail: q3.answers.q3c
# hint: wrong answer for 'neg_identity'
ANSWERS["q3c"] = {"identity": "similar_all_dims", "e11": "dim1_only",
                  "diag_1_0_-1": "match_dim1_oppose_dim3", "neg_identity": "similar_all_dims"}
