# expect-fail: q6.causal_self_attention.matches_reference q6.causal_self_attention.prefix_independent
# hint: mask the future before the softmax
def causal_self_attention(X, W_Q, W_K, W_V):
    Q, K, V = X @ W_Q, X @ W_K, X @ W_V
    scores = Q @ K.T / math.sqrt(W_Q.shape[-1])
    return torch.softmax(scores, dim=-1) @ V
