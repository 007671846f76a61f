# expect-fail: q3.attention_mix.matches_reference q3.attention_mix.convex_combination
# hint: X @ A uses A's columns; the mix is X @ A.T
def attention_mix(X, A):
    return X @ A
