"""Does not even parse."""
def lora_grads(G, A, B)
    return G @ B.T, A.T @ G
