# expect-fail: q5.answers.q5b_D_opt
# D_opt without the C0 factor
ANSWERS["q5b_D_opt"] = "C / ((alpha*A/(beta*B*C0**beta))**(1/(alpha + beta)) * C**(beta/(alpha + beta)))"
