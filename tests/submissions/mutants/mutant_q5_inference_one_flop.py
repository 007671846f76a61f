# expect-fail: q5.inference_cost.matches_reference
# hint: 2 FLOPs per parameter per token
def inference_cost(n_params, n_tokens, gpu_flops=1.98e15, dollars_per_gpu_hour=1.5):
    return n_params * n_tokens / gpu_flops / 3600 * dollars_per_gpu_hour
