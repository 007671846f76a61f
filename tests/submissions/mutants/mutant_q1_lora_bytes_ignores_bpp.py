# expect-fail: q1.lora_bytes.numeric
def lora_bytes(m, l, k, bytes_per_param=4):
    return 4 * k * (m + l)
