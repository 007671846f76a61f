# expect-fail: q5.seconds_per_token.matches_reference
# hint: not 4 bytes per parameter
def seconds_per_token(n_params, bandwidth=4.8e12, bytes_per_param=2):
    return n_params * 4 / bandwidth
