# expect-fail: q7.channel_prune_compute_fraction.numeric q7.channel_prune_compute_fraction.symbolic
# hint: not 1 - p
def channel_prune_compute_fraction(prune_ratio):
    return 1 - prune_ratio
