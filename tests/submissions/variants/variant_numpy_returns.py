# full-marks: q1 q3 q6 q7
# Equivalent correct forms: numpy arrays instead of tensors.
def lora_grads(G, A, B):
    G, A, B = G.numpy(), A.numpy(), B.numpy()
    return G @ B.T, A.T @ G

def qk_matrix(W_Q, W_K):
    return W_Q.numpy().T @ W_K.numpy()

def attention_scores(X, W_QK):
    X = X.numpy()
    return X.T @ W_QK.numpy() @ X

def ov_matrix(W_O, W_V):
    return np.matmul(W_O.numpy(), W_V.numpy())

def causal_self_attention(X, W_Q, W_K, W_V):
    X = X.numpy()
    Q, K, V = X @ W_Q.numpy(), X @ W_K.numpy(), X @ W_V.numpy()
    S = Q @ K.T / np.sqrt(Q.shape[1])
    S = np.where(np.tril(np.ones_like(S)) > 0, S, -np.inf)
    S = S - S.max(axis=1, keepdims=True)
    P = np.exp(S)
    return (P / P.sum(axis=1, keepdims=True)) @ V

def linear_dequantize(q, S, Z):
    return np.asarray(S * (np.asarray(q, dtype=float) - Z))
