# expect-fail: q3.zero_layer_logits.matches_reference q3.zero_layer_logits.permutation
# hint: Each position's logits should depend only on its own token
def zero_layer_logits(W_E, W_U, T):
    return W_U @ W_E @ torch.cumsum(T, dim=1)
