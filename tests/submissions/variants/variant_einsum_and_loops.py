# full-marks: q1 q3 q6
# Equivalent correct forms: einsum and explicit loops.
def lora_grads(G, A, B):
    return torch.einsum("ml,kl->mk", G, B), torch.einsum("mk,ml->kl", A, G)

def multihead_concat(r_heads, W_O_H):
    return torch.einsum("dh,hn->dn", W_O_H, torch.cat(list(r_heads), dim=0))

def attention_scores(X, W_QK):
    n = X.shape[1]
    S = torch.zeros(n, n, dtype=X.dtype)
    for i in range(n):
        for j in range(n):
            S[i, j] = X[:, i] @ W_QK @ X[:, j]
    return S

def causal_self_attention(X, W_Q, W_K, W_V):
    Q, K, V = X @ W_Q, X @ W_K, X @ W_V
    d = Q.shape[1]
    rows = []
    for i in range(X.shape[0]):
        scores = torch.stack([Q[i] @ K[j] / math.sqrt(d) for j in range(i + 1)])
        w = torch.softmax(scores, dim=0)
        rows.append(sum(w[j] * V[j] for j in range(i + 1)))
    return torch.stack(rows)
