# expect-fail: q1.lora_init.gradient_reaches_a_factor
# hint: gradient descent never moves them
def lora_init(m, k, l, generator=None):
    return torch.zeros(m, k, dtype=torch.float64), torch.zeros(k, l, dtype=torch.float64)
