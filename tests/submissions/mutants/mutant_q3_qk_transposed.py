# expect-fail: q3.qk_matrix.matches_reference
# hint: W_K.T @ W_Q is the transpose of W_QK
def qk_matrix(W_Q, W_K):
    return W_K.T @ W_Q
