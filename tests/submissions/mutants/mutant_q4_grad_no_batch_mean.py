# expect-fail: q4.linreg_grad.matches_reference q4.sweep_a.final_losses q4.sweep_a.optimal_lr
# hint: grows with the batch size
def linreg_grad(w, X, y):
    return X.T @ (X @ w - y)   # bug: the 1/len(y) factor is missing
