# expect-fail: q5.compute_for_params.matches_reference
def compute_for_params(N, a=0.1, e=0.5):
    return (N / a) ** e
