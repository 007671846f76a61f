# expect-fail: q3.attention_scores.bilinear_form
# hint: the result is transposed: S[i, j] = X[:, i] @ W_QK @ X[:, j]
def attention_scores(X, W_QK):
    return X.T @ W_QK.T @ X
