# The course's staff solution for fine-grained magnitude pruning, wrapped as
# magnitude_prune (appended to the correct submission, like a mutant).
# It crashes when round(sparsity * numel) is 0: kthvalue(0) is out of range.
# expect-error: q7.magnitude_prune.zero_count q7.magnitude_prune.kept_unchanged q7.magnitude_prune.smallest_removed
def fine_grained_prune(tensor, sparsity):
    sparsity = min(max(0.0, sparsity), 1.0)
    if sparsity == 1.0:
        tensor.zero_(); return torch.zeros_like(tensor)
    elif sparsity == 0.0:
        return torch.ones_like(tensor)
    num_elements = tensor.numel()
    num_zeros = round(num_elements * sparsity)
    importance = tensor.abs()
    threshold = importance.view(-1).kthvalue(num_zeros).values
    mask = torch.gt(importance, threshold)
    tensor.mul_(mask)
    return mask


def magnitude_prune(W, sparsity):
    W = W.clone(); fine_grained_prune(W, sparsity); return W
