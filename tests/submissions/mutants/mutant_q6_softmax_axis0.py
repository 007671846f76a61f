# expect-fail: q6.causal_self_attention.matches_reference q6.causal_self_attention.prefix_independent
# hint: the softmax runs over the source positions j
def causal_self_attention(X, W_Q, W_K, W_V):
    Q, K, V = X @ W_Q, X @ W_K, X @ W_V
    n = X.shape[0]
    scores = Q @ K.T / math.sqrt(W_Q.shape[1])
    scores = scores.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(scores, dim=0) @ V
