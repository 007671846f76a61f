# expect-fail: q5.chinchilla_optimal.symbolic
# hint: pure arithmetic
def chinchilla_optimal(C, A, B, alpha, beta, C0):
    N_opt = math.pow(alpha * A / (beta * B * C0 ** beta), 1 / (alpha + beta)) * math.pow(C, beta / (alpha + beta))
    return N_opt, C / (C0 * N_opt)
