# expect-fail: q3.read_write_subspaces.rank q3.read_write_subspaces.singular_values q3.read_write_subspaces.tol
# hint: keep only the singular values above tol * sigma_max
def read_write_subspaces(W_OV, tol=1e-9):
    U, S, Vh = torch.linalg.svd(W_OV, full_matrices=False)
    return Vh.T, S, U
