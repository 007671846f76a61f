# expect-fail: q7.magnitude_prune.smallest_removed
# hint: prune the entries of smallest magnitude, not the largest
def magnitude_prune(W, sparsity):
    n_zero = int(round(sparsity * W.numel()))
    flat = W.flatten().clone()
    flat[torch.argsort(flat.abs(), descending=True)[:n_zero]] = 0
    return flat.reshape(W.shape)
