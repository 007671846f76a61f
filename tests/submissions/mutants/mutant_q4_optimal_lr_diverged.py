# expect-fail: q4.optimal_lr.diverged_runs
# hint: is a diverged run
def optimal_lr(lrs, final_losses):
    return float(lrs[int(np.argmin(np.asarray(final_losses, dtype=float)))])   # bug: argmin picks a NaN run
