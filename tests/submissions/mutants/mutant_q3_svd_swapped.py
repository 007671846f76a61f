# expect-fail: q3.read_write_subspaces.reconstruction q3.read_write_subspaces.read_write_spans
# hint: V and U look swapped
def read_write_subspaces(W_OV, tol=1e-9):
    U, S, Vh = torch.linalg.svd(W_OV, full_matrices=False)
    keep = S > tol * S.max()
    return U[:, keep], S[keep], Vh[keep].T
