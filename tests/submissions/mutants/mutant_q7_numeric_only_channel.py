# expect-fail: q7.channel_prune_compute_fraction.symbolic
# hint: pure arithmetic
def channel_prune_compute_fraction(prune_ratio):
    return math.pow(1 - prune_ratio, 2)
