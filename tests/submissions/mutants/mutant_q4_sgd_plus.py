# expect-fail: q4.sgd_update.matches_reference q4.sweep_a.final_losses q4.sweep_b.final_losses
# hint: the updates go uphill
def sgd_update(params, grads, lr):
    return [p + lr * g for p, g in zip(params, grads)]   # bug: + instead of -
