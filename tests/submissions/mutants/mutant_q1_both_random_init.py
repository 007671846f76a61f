# expect-fail: q1.lora_init.product_is_zero
# hint: start away from the pretrained W0
def lora_init(m, k, l, generator=None):
    A = torch.randn(m, k, generator=generator, dtype=torch.float64)
    B = torch.randn(k, l, generator=generator, dtype=torch.float64)
    return A, B
