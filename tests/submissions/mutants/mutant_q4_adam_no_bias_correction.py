# expect-fail: q4.adam_update.matches_torch_adam q4.sweep_c_linreg.final_losses q4.sweep_c_mlp.final_losses
# hint: Adam without bias correction
def adam_update(params, grads, state, lr, betas=(0.9, 0.999), eps=1e-8):
    beta1, beta2 = betas
    step = state.get("step", 0) + 1
    ms = state.get("m", [torch.zeros_like(p) for p in params])
    vs = state.get("v", [torch.zeros_like(p) for p in params])
    new_params, new_ms, new_vs = [], [], []
    for p, g, m, v in zip(params, grads, ms, vs):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        new_params.append(p - lr * m / (v.sqrt() + eps))   # bug: no bias correction
        new_ms.append(m)
        new_vs.append(v)
    return new_params, {"step": step, "m": new_ms, "v": new_vs}
