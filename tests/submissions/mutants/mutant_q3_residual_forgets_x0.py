# expect-fail: q3.one_layer_residual.matches_reference q3.one_layer_residual.writes_in_column_space
# hint: the residual stream keeps X0
def one_layer_residual(X0, W_OVs, As):
    return sum(W_OV @ X0 @ A.T for W_OV, A in zip(W_OVs, As))
