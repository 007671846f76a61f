# expect-fail: q5.chinchilla_optimal.numeric q5.chinchilla_optimal.symbolic
# hint: alpha and beta look swapped
def chinchilla_optimal(C, A, B, alpha, beta, C0):
    N_opt = (alpha * A / (beta * B * C0 ** beta)) ** (1 / (alpha + beta)) * C ** (alpha / (alpha + beta))
    D_opt = C / (C0 * N_opt)
    return N_opt, D_opt
