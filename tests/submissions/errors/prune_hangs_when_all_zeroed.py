# magnitude_prune that never returns when every entry is to be zeroed (a loop
# that never ends: the call limit fires whatever the machine's speed).
# expect-timeout: q7.magnitude_prune.zero_count
def magnitude_prune(W, sparsity):
    n_zero = int(round(sparsity * W.numel()))
    while n_zero == W.numel():
        pass
    flat = W.flatten().clone()
    flat[torch.argsort(flat.abs())[:n_zero]] = 0
    return flat.reshape(W.shape)
