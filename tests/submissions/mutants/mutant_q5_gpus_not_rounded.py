# expect-fail: q5.gpus_to_store.rounds_up
# hint: round UP
def gpus_to_store(n_params, gpu_bytes=100e9, bytes_per_param=2):
    return n_params * bytes_per_param / gpu_bytes
