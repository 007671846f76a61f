# expect-fail: q3.concat_output_matrix.matches_reference q3.multihead_concat.equals_sum
# hint: W_O^H puts the heads side by side
def concat_output_matrix(W_O_heads):
    return torch.cat(list(W_O_heads), dim=0)
