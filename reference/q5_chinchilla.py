"""Q5 reference: Chinchilla scaling and the cost of scale.

``L(N, D) = A / N**alpha + B / D**beta + L0`` under the compute budget
``C = C0 * N * D``. The compute-optimal ``N_opt(C)`` and ``D_opt(C)`` are
derived with sympy in :func:`derive_optimal` (lazily, cached): substitute
``D = C / (C0 N)``, differentiate w.r.t. ``N``, and solve ``dL/dN = 0`` by
log-linearising it (the two terms of ``dL/dN`` have opposite signs, so
``dL/dN = 0`` <=> ``log(positive term) = log(-negative term)``, which is linear
in ``log N`` and has exactly one real root: the unique positive stationary
point, a minimum since ``L -> oo`` at both ends).

The Fermi-estimate functions mirror the student API (same names, signatures
and defaults) and are pure arithmetic unless stated. ``ANSWERS`` is built
lazily (module ``__getattr__``) from :func:`answers` by calling these
functions on the homework's scenarios.
"""
import math
from functools import lru_cache

import numpy as np
import sympy

C, A, B, alpha, beta, C0 = sympy.symbols("C A B alpha beta C0", positive=True)
N, D = sympy.symbols("N D", positive=True)
L0 = sympy.Symbol("L0", real=True)

#: the homework's fitted Chinchilla constants
HOMEWORK = dict(A=406.4, B=410.7, alpha=0.34, beta=0.28, C0=6)

__all__ = [
    "C", "A", "B", "alpha", "beta", "C0", "N", "D", "L0", "HOMEWORK",
    "loss", "derive_optimal", "chinchilla_optimal", "exponents", "prefactors",
    "compute_for_params", "tokens_for_compute", "tokens_to_books", "param_bytes",
    "gpus_to_store", "storage_cost_per_year", "seconds_per_token", "petaflop_days",
    "petaflop_days_to_flops", "training_cost", "training_days", "inference_cost",
    "tokens_to_recoup", "landauer_power", "carbon_cost", "burgers",
    "answers", "ANSWERS",
    # known mistakes
    "chinchilla_optimal_swapped_exponents", "tokens_to_books_no_pages",
    "seconds_per_token_4_bytes", "gpus_not_rounded", "training_cost_per_second",
    "inference_cost_1_flop",
]


def loss(N_, D_, A_=A, B_=B, alpha_=alpha, beta_=beta, L0_=L0):
    """``A / N**alpha + B / D**beta + L0`` (pure arithmetic)."""
    return A_ / N_**alpha_ + B_ / D_**beta_ + L0_


# ---------------------------------------------------------------------------
# Symbolic derivation
# ---------------------------------------------------------------------------

@lru_cache(maxsize=None)
def derive_optimal():
    """Derive ``(N_opt, D_opt)`` as sympy expressions in ``C, A, B, alpha, beta, C0``."""
    L_of_N = loss(N, C / (C0 * N))
    dL = sympy.expand(sympy.diff(L_of_N, N))
    terms = sympy.Add.make_args(dL)
    pos = [t for t in terms if t.is_positive]
    neg = [t for t in terms if t.is_negative]
    if len(terms) != 2 or len(pos) != 1 or len(neg) != 1:  # pragma: no cover
        raise RuntimeError(f"unexpected form of dL/dN: {dL}")
    # dL/dN = 0  <=>  pos = -neg  <=>  log(pos) = log(-neg): linear in u = log N
    u = sympy.Symbol("u", real=True)
    eq = sympy.expand_log(sympy.log(pos[0]), force=True) - sympy.expand_log(
        sympy.log(-neg[0]), force=True)
    eq = sympy.expand(eq.subs(sympy.log(N), u))
    if eq.has(N) or sympy.degree(eq, u) != 1:  # pragma: no cover
        raise RuntimeError(f"stationarity condition not linear in log N: {eq}")
    (u_sol,) = sympy.solve(eq, u)
    N_opt = sympy.powsimp(sympy.simplify(sympy.exp(u_sol)), force=True)
    D_opt = sympy.powsimp(C / (C0 * N_opt), force=True)
    return N_opt, D_opt


@lru_cache(maxsize=None)
def _derived_exponents():
    """Exponent of ``C`` in ``N_opt`` and ``D_opt``: ``d log X / d log C``."""
    N_opt, D_opt = derive_optimal()
    out = []
    for X in (N_opt, D_opt):
        e = sympy.simplify(C * sympy.diff(X, C) / X)
        if e.has(C):  # pragma: no cover
            raise RuntimeError(f"{X} is not a power law in C")
        out.append(e)
    return tuple(out)


@lru_cache(maxsize=None)
def _derived_prefactors():
    """Coefficient of ``C**exponent`` in ``N_opt`` and ``D_opt``.

    ``d log X / d log C`` is free of ``C`` (checked in :func:`_derived_exponents`),
    so ``X = X|_{C=1} * C**exponent`` exactly and the coefficient is ``X`` at ``C = 1``."""
    return tuple(sympy.powsimp(sympy.simplify(X.subs(C, 1)), force=True)
                 for X in derive_optimal())


@lru_cache(maxsize=None)
def _numeric_optimal():
    args = (C, A, B, alpha, beta, C0)
    return tuple(sympy.lambdify(args, X, modules="numpy") for X in derive_optimal())


def _subs(expr, **values):
    syms = dict(C=C, A=A, B=B, alpha=alpha, beta=beta, C0=C0)
    return expr.xreplace({syms[name]: sympy.sympify(v) for name, v in values.items()})


def chinchilla_optimal(C, A, B, alpha, beta, C0):
    """Compute-optimal ``(N_opt, D_opt)``. Symbolic-capable: with any sympy
    argument the derived expressions (with the arguments substituted) are returned."""
    values = dict(C=C, A=A, B=B, alpha=alpha, beta=beta, C0=C0)
    if any(isinstance(v, sympy.Basic) for v in values.values()):
        return tuple(_subs(X, **values) for X in derive_optimal())
    fN, fD = _numeric_optimal()
    args = [np.asarray(v, dtype=np.float64) for v in (C, A, B, alpha, beta, C0)]
    out = (fN(*args), fD(*args))
    if all(np.ndim(a) == 0 for a in args):
        return tuple(float(o) for o in out)
    return out


def exponents(alpha=0.34, beta=0.28):
    """``(a, b)`` with ``N_opt ~ C**a`` and ``D_opt ~ C**b`` (from the derivation)."""
    return tuple(float(_subs(e, alpha=alpha, beta=beta)) for e in _derived_exponents())


def prefactors(A=406.4, B=410.7, alpha=0.34, beta=0.28, C0=6):
    """Coefficients of ``C**a`` in ``N_opt`` and of ``C**b`` in ``D_opt`` (≈ 0.599, ≈ 0.278)."""
    return tuple(float(_subs(p, A=A, B=B, alpha=alpha, beta=beta, C0=C0))
                 for p in _derived_prefactors())


# ---------------------------------------------------------------------------
# The student API of Q5 (same names, signatures and defaults)
# ---------------------------------------------------------------------------

def compute_for_params(N, a=0.1, e=0.5):
    """Invert the fitted law ``N = a * C**e``: ``C = (N / a)**(1 / e)``."""
    return (N / a) ** (1 / e)


def tokens_for_compute(C, b=1.7, e=0.5):
    """The fitted law ``D = b * C**e``."""
    return b * C**e


def tokens_to_books(tokens, tokens_per_word=1.4, words_per_page=400, pages_per_book=300):
    """Number of books holding ``tokens`` tokens."""
    return tokens / tokens_per_word / words_per_page / pages_per_book


def param_bytes(n_params, bytes_per_param=2):
    """Bytes to hold the parameters."""
    return n_params * bytes_per_param


def gpus_to_store(n_params, gpu_bytes=100e9, bytes_per_param=2):
    """Whole GPUs needed to hold the parameters (rounded up), as an ``int``.

    A quotient within a few ulps (relative 1e-15) of an integer counts as
    that integer, so float noise such as ``20.000000000000004`` does not add
    a GPU, while ``20.00000000002`` (one byte too many for 20 GPUs) does."""
    q = param_bytes(n_params, bytes_per_param) / gpu_bytes
    r = round(q)
    if math.isclose(q, r, rel_tol=1e-15, abs_tol=0.0):
        return int(r)
    return int(math.ceil(q))


def storage_cost_per_year(n_params, dollars_per_mb, bytes_per_param=2):
    """Dollars per year, with 1 MB = 1e6 bytes and ``dollars_per_mb`` per year."""
    return param_bytes(n_params, bytes_per_param) / 1e6 * dollars_per_mb


def seconds_per_token(n_params, bandwidth=4.8e12, bytes_per_param=2):
    """Time to stream every parameter once from memory."""
    return param_bytes(n_params, bytes_per_param) / bandwidth


def petaflop_days(flops):
    """``flops / (1e15 * 86400)``."""
    return flops / (1e15 * 86400)


def petaflop_days_to_flops(pf_days):
    """Inverse of :func:`petaflop_days` (not part of the student API)."""
    return pf_days * (1e15 * 86400)


def training_cost(flops, gpu_flops=1.98e15, dollars_per_gpu_hour=1.5):
    """Dollars at full utilisation."""
    return flops / gpu_flops / 3600 * dollars_per_gpu_hour


def training_days(flops, n_gpus, gpu_flops=1.98e15):
    """Wall-clock days on ``n_gpus`` GPUs at full utilisation."""
    return flops / (gpu_flops * n_gpus) / 86400


def inference_cost(n_params, n_tokens, gpu_flops=1.98e15, dollars_per_gpu_hour=1.5):
    """Dollars to generate ``n_tokens`` tokens, 2 FLOPs per parameter per token."""
    return training_cost(2 * n_params * n_tokens, gpu_flops, dollars_per_gpu_hour)


def tokens_to_recoup(dollars, dollars_per_million_tokens=120):
    """Tokens that must be sold to earn ``dollars``."""
    return dollars / dollars_per_million_tokens * 1e6


def landauer_power(flops_per_s, bits_per_flop=32, joules_per_bit=3e-21):
    """Landauer minimum power in watts."""
    return flops_per_s * bits_per_flop * joules_per_bit


def carbon_cost(t_co2, dollars_per_t=112):
    """Dollars."""
    return t_co2 * dollars_per_t


def burgers(t_co2, kg_co2_per_kg_beef=50, kg_beef_per_burger=0.113):
    """Burgers with the same emissions as ``t_co2`` tonnes of CO2."""
    return t_co2 * 1000 / kg_co2_per_kg_beef / kg_beef_per_burger


# ---------------------------------------------------------------------------
# ANSWERS: the functions above applied to the homework's scenarios
# ---------------------------------------------------------------------------

#: the scenario inputs of the homework (outputs are computed, never typed in)
SCENARIOS = dict(
    q5c_N=1e14,
    q5d_tokens=1e15,
    q5e_params=1e12,
    q5f_params=1e14, q5f_ssd_per_mb=5e-5, q5f_dram_per_mb=4e-3,
    q5g_gpt6_params=1e14, q5g_gpt3_params=1.75e11,
    q5h_gpt3_pf_days=3640, q5h_gpt6_flops=1e30, q5h_gpt6_gpus=3e7,
    q5j_params=1e12, q5j_tokens=1e6, q5j_recoup_dollars=1e9,
    q5j_words_per_essay=1000, q5j_tokens_per_word=1.4,
    q5k_watts=700, q5k_flops_per_s=1.98e15,
    q5l_t_co2=552,
)


@lru_cache(maxsize=None)
def answers():
    """The accepted ``ANSWERS`` of Q5 (cached; use ``ANSWERS`` for a fresh copy)."""
    s = SCENARIOS
    N_opt, D_opt = derive_optimal()
    q5c_C = compute_for_params(s["q5c_N"])
    return {
        "q5b_N_opt": N_opt,
        "q5b_D_opt": D_opt,
        "q5c_C": q5c_C,
        "q5c_D": tokens_for_compute(q5c_C),
        "q5d_books": tokens_to_books(s["q5d_tokens"]),
        "q5e_gpus": gpus_to_store(s["q5e_params"]),
        "q5f_ssd_dollars": storage_cost_per_year(s["q5f_params"], s["q5f_ssd_per_mb"]),
        "q5f_dram_dollars": storage_cost_per_year(s["q5f_params"], s["q5f_dram_per_mb"]),
        "q5g_gpt6_seconds": seconds_per_token(s["q5g_gpt6_params"]),
        "q5g_gpt3_seconds": seconds_per_token(s["q5g_gpt3_params"]),
        "q5h_gpt3_dollars": training_cost(petaflop_days_to_flops(s["q5h_gpt3_pf_days"])),
        "q5h_gpt6_dollars": training_cost(s["q5h_gpt6_flops"]),
        "q5h_gpt6_days": training_days(s["q5h_gpt6_flops"], s["q5h_gpt6_gpus"]),
        "q5j_dollars": inference_cost(s["q5j_params"], s["q5j_tokens"]),
        "q5j_essays": tokens_to_recoup(s["q5j_recoup_dollars"])
        / (s["q5j_words_per_essay"] * s["q5j_tokens_per_word"]),
        "q5k_ratio": s["q5k_watts"] / landauer_power(s["q5k_flops_per_s"]),
        "q5l_burgers": burgers(s["q5l_t_co2"]),
    }


def __getattr__(name):
    if name == "ANSWERS":
        return dict(answers())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------
# Known mistakes (the commonest wrong answers; used for hints, never accepted)
# ---------------------------------------------------------------------------

def chinchilla_optimal_swapped_exponents(C, A, B, alpha, beta, C0):
    """Right prefactor of ``N_opt`` but the exponents of ``C`` swapped
    (``N ~ C**(alpha/(alpha+beta))``), with ``D = C / (C0 N)`` following."""
    values = dict(C=C, A=A, B=B, alpha=alpha, beta=beta, C0=C0)
    a, b = _derived_exponents()
    pN, _ = _derived_prefactors()
    cs = globals()["C"]
    N_wrong = pN * cs**b
    D_wrong = cs / (globals()["C0"] * N_wrong)
    exprs = (N_wrong, D_wrong)
    if any(isinstance(v, sympy.Basic) for v in values.values()):
        return tuple(_subs(X, **values) for X in exprs)
    return tuple(float(_subs(X, **values)) for X in exprs)


def tokens_to_books_no_pages(tokens, tokens_per_word=1.4, words_per_page=400, pages_per_book=300):
    """Forgot ``pages_per_book``: counts pages, not books."""
    return tokens / tokens_per_word / words_per_page


def seconds_per_token_4_bytes(n_params, bandwidth=4.8e12, bytes_per_param=2):
    """Used 4 bytes (fp32) per parameter instead of ``bytes_per_param``."""
    return n_params * 4 / bandwidth


def gpus_not_rounded(n_params, gpu_bytes=100e9, bytes_per_param=2):
    """The fractional number of GPUs (no rounding up)."""
    return param_bytes(n_params, bytes_per_param) / gpu_bytes


def training_cost_per_second(flops, gpu_flops=1.98e15, dollars_per_gpu_hour=1.5):
    """Charged the hourly price per GPU-second (forgot ``/ 3600``)."""
    return flops / gpu_flops * dollars_per_gpu_hour


def inference_cost_1_flop(n_params, n_tokens, gpu_flops=1.98e15, dollars_per_gpu_hour=1.5):
    """1 FLOP per parameter per token instead of 2 (half the right cost)."""
    return training_cost(n_params * n_tokens, gpu_flops, dollars_per_gpu_hour)
