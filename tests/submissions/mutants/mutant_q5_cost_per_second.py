# expect-fail: q5.training_cost.matches_reference
# hint: per GPU-hour
def training_cost(flops, gpu_flops=1.98e15, dollars_per_gpu_hour=1.5):
    return flops / gpu_flops * dollars_per_gpu_hour
