# expect-fail: q3.concat_output_matrix.matches_reference q3.multihead_concat.equals_sum
# hint: the heads are in reverse order
def concat_output_matrix(W_O_heads):
    return torch.cat(list(W_O_heads)[::-1], dim=1)
