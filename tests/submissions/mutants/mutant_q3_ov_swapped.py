# expect-fail: q3.ov_matrix.matches_reference
# hint: this is its transpose
def ov_matrix(W_O, W_V):
    return W_V.T @ W_O.T
