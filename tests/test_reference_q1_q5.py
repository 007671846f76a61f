"""Tests of the Q1 (LoRA) and Q5 (Chinchilla) reference layer."""
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy
import torch
from hypothesis import given, settings, strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference import q1_lora as q1  # noqa: E402
from reference import q5_chinchilla as q5  # noqa: E402

torch.set_default_dtype(torch.float64)


# ===========================================================================
# Q1 LoRA
# ===========================================================================

def _torch_lora_grads(W0, A, B, G):
    """dL/dA, dL/dB by autograd for L = sum(G * (W0 + A @ B))."""
    A_t = torch.tensor(A, requires_grad=True)
    B_t = torch.tensor(B, requires_grad=True)
    L = (torch.tensor(G) * (torch.tensor(W0) + A_t @ B_t)).sum()
    L.backward()
    return A_t.grad.numpy(), B_t.grad.numpy()


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 9), l=st.integers(1, 9), k=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_lora_grads_match_autograd_linear_loss(m, l, k, seed):
    rng = np.random.default_rng(seed)
    W0 = rng.standard_normal((m, l))
    A = rng.standard_normal((m, k))
    B = rng.standard_normal((k, l))
    G = rng.standard_normal((m, l))
    dA, dB = q1.lora_grads(G, A, B)
    tA, tB = _torch_lora_grads(W0, A, B, G)
    assert dA.shape == (m, k) and dB.shape == (k, l)
    np.testing.assert_allclose(dA, tA, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dB, tB, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed, m, l, k", [(0, 7, 4, 2), (1, 3, 8, 3), (2, 6, 5, 4), (3, 10, 2, 2)])
def test_lora_grads_chain_rule_nonlinear_loss(seed, m, l, k):
    """G = dL/dW from autograd for a nonlinear loss of the layer output."""
    rng = np.random.default_rng(seed)
    W0 = torch.tensor(rng.standard_normal((m, l)))
    A = torch.tensor(rng.standard_normal((m, k)), requires_grad=True)
    B = torch.tensor(rng.standard_normal((k, l)), requires_grad=True)
    x = torch.tensor(rng.standard_normal((5, l)))
    W = (W0 + A @ B)
    W.retain_grad()
    y = x @ W.T
    loss = (torch.tanh(y) ** 2).sum() + (y[:, 0] * y[:, -1]).sum()
    loss.backward()
    G = W.grad.numpy()
    dA, dB = q1.lora_grads(G, A.detach().numpy(), B.detach().numpy())
    np.testing.assert_allclose(dA, A.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dB, B.grad.numpy(), rtol=1e-10, atol=1e-12)
    # lora_forward agrees with the torch layer
    np.testing.assert_allclose(
        q1.lora_forward(W0.numpy(), A.detach().numpy(), B.detach().numpy(), x.numpy()),
        y.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_lora_grads_known_mistakes_differ():
    rng = np.random.default_rng(5)
    m, l, k = 6, 4, 3
    G, A, B = rng.standard_normal((m, l)), rng.standard_normal((m, k)), rng.standard_normal((k, l))
    dA, dB = q1.lora_grads(G, A, B)
    sA, sB = q1.lora_grads_swapped_outputs(G, A, B)
    assert sA.shape == dB.shape and sB.shape == dA.shape
    tA, tB = q1.lora_grads_transposed(G, A, B)
    assert tA.shape == (k, m) and tB.shape == (l, k)
    np.testing.assert_array_equal(tA.T, dA)


@pytest.mark.parametrize("m, k, l, seed", [(7, 2, 5, 0), (3, 3, 9, 1), (16, 4, 8, None)])
def test_lora_init(m, k, l, seed):
    A, B = q1.lora_init(m, k, l, rng=seed)
    assert A.shape == (m, k) and B.shape == (k, l)
    assert A.dtype == np.float64 and B.dtype == np.float64
    assert np.all(A @ B == 0.0)  # exactly
    rng = np.random.default_rng(99)
    W0 = rng.standard_normal((m, l))
    x = rng.standard_normal((4, l))
    assert np.array_equal(q1.lora_forward(W0, A, B, x), x @ W0.T)
    # the gradient reaches at least one factor at the first step
    G = rng.standard_normal((m, l))
    dA, dB = q1.lora_grads(G, A, B)
    assert np.any(dA != 0) or np.any(dB != 0)
    # ... and one SGD step moves A @ B off zero
    A1, B1 = A - 0.1 * dA, B - 0.1 * dB
    assert np.any(A1 @ B1 != 0)


def test_lora_init_reproducible_and_generator():
    a1, _ = q1.lora_init(5, 2, 3, rng=7)
    a2, _ = q1.lora_init(5, 2, 3, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a1, a2)


def test_lora_init_known_mistakes():
    A, B = q1.lora_init_both_zero(5, 2, 3)
    dA, dB = q1.lora_grads(np.ones((5, 3)), A, B)
    assert not dA.any() and not dB.any()  # q1b: nothing ever moves
    A, B = q1.lora_init_both_random(5, 2, 3, rng=0)
    assert np.any(A @ B != 0)  # q1c: starts away from W0


def test_memory_formulas_numeric():
    assert q1.lora_bytes(3, 5, 2) == 4 * 2 * (3 + 5) == 64
    assert q1.full_update_bytes(3, 5) == 60
    assert q1.lora_bytes(1000, 4000, 8, bytes_per_param=2) == 2 * 8 * 5000
    assert q1.full_update_bytes(1000, 4000, bytes_per_param=2) == 8_000_000
    assert q1.lora_bytes_no_bytes_per_param(3, 5, 2) == 16


def test_memory_formulas_symbolic():
    m, l, k = q1.m, q1.l, q1.k
    assert sympy.expand(q1.lora_bytes(m, l, k) - 4 * k * (m + l)) == 0
    assert sympy.expand(q1.full_update_bytes(m, l) - 4 * m * l) == 0
    b = sympy.Symbol("b", positive=True)
    assert sympy.expand(q1.lora_bytes(m, l, k, b) - b * k * (m + l)) == 0


def test_q1_answers():
    ans = q1.ANSWERS
    assert set(ans) == {"q1a", "q1d_ratio"}
    assert ans["q1a"] == "increase_rank"
    r = ans["q1d_ratio"]
    assert isinstance(r, sympy.Expr)
    assert r.free_symbols <= {q1.m, q1.l, q1.k}
    assert sympy.simplify(r - q1.k * (q1.m + q1.l) / (q1.m * q1.l)) == 0
    f = sympy.lambdify((q1.m, q1.l, q1.k), r)
    for m_, l_, k_ in [(1024, 4096, 8), (7, 3, 2), (5.5, 0.25, 3.0), (1e6, 2e3, 16)]:
        assert f(m_, l_, k_) == pytest.approx(k_ * (m_ + l_) / (m_ * l_), rel=1e-12)
    inv = sympy.lambdify((q1.m, q1.l, q1.k), q1.q1d_ratio_inverted())
    assert inv(7, 3, 2) == pytest.approx(21 / 20)
    # a fresh copy each time, the cache is safe from mutation
    q1.ANSWERS["q1a"] = "oops"
    assert q1.ANSWERS["q1a"] == "increase_rank"


# ===========================================================================
# Q5 Chinchilla
# ===========================================================================

S = {name: getattr(q5, name) for name in ("C", "A", "B", "alpha", "beta", "C0")}


def test_derivation_is_well_formed():
    q5.derive_optimal.cache_clear()  # derived afresh (its cost is not asserted: speed belongs in bench/)
    N_opt, D_opt = q5.derive_optimal()
    assert N_opt.free_symbols == set(S.values())
    assert D_opt.free_symbols == set(S.values())
    assert N_opt.is_positive and D_opt.is_positive


def test_D_opt_is_C_over_C0_N_opt():
    N_opt, D_opt = q5.derive_optimal()
    assert sympy.simplify(D_opt - q5.C / (q5.C0 * N_opt)) == 0


def _random_points(n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield dict(C=10 ** rng.uniform(15, 30), A=rng.uniform(50, 1000), B=rng.uniform(50, 1000),
                   alpha=rng.uniform(0.05, 1.5), beta=rng.uniform(0.05, 1.5), C0=rng.uniform(1, 10))


def test_N_opt_is_the_stationary_minimum_mpmath():
    N_opt, D_opt = q5.derive_optimal()
    L = q5.loss(q5.N, q5.C / (q5.C0 * q5.N), L0_=0)
    dL = sympy.diff(L, q5.N)
    args = (q5.N, *S.values())
    f_L = sympy.lambdify(args, L, modules="mpmath")
    f_dL = sympy.lambdify(args, dL, modules="mpmath")
    f_N = sympy.lambdify(tuple(S.values()), N_opt, modules="mpmath")
    with mpmath.workdps(60):
        for p in _random_points(32, seed=11):
            vals = [mpmath.mpf(p[k]) for k in S]
            n = f_N(*vals)
            assert n > 0 and mpmath.im(n) == 0
            # dL/dN = 0 up to working precision, relative to the size of one of its terms
            scale = vals[3] * vals[1] / n ** (vals[3] + 1)
            assert abs(f_dL(n, *vals)) / scale < mpmath.mpf(10) ** -50
            # a minimum: moving N either way raises L
            for eps in (mpmath.mpf("1e-6"), mpmath.mpf("-1e-6")):
                assert f_L(n * (1 + eps), *vals) > f_L(n, *vals)


def test_N_opt_symbolic_stationarity():
    """Substituting N_opt back into dL/dN gives 0 (ratio of the two terms is 1)."""
    N_opt, _ = q5.derive_optimal()
    L = q5.loss(q5.N, q5.C / (q5.C0 * q5.N))
    terms = sympy.Add.make_args(sympy.expand(sympy.diff(L, q5.N)))
    assert len(terms) == 2
    ratio = (-terms[0] / terms[1]).subs(q5.N, N_opt)
    ratio = sympy.powsimp(sympy.expand_power_base(ratio, force=True), force=True)
    assert sympy.simplify(ratio) == 1


def test_matches_sympy_solve_and_homework_formula():
    N_opt, _ = q5.derive_optimal()
    sols = [s for s in sympy.solve(sympy.diff(q5.loss(q5.N, q5.C / (q5.C0 * q5.N)), q5.N), q5.N)]
    assert len(sols) == 1
    C, A, B, alpha, beta, C0 = S.values()
    book = (alpha * A / (beta * B * C0**beta)) ** (1 / (alpha + beta)) * C ** (beta / (alpha + beta))
    for other in (sols[0], book):
        f = sympy.lambdify(tuple(S.values()), N_opt / other, modules="mpmath")
        with mpmath.workdps(40):
            for p in _random_points(8, seed=3):
                assert abs(f(*[mpmath.mpf(p[k]) for k in S]) - 1) < mpmath.mpf(10) ** -35


def test_brute_force_minimum_numeric():
    hw = q5.HOMEWORK
    for Cval in (1e21, 1e24, 1e27):
        logN = np.linspace(np.log(1e6), np.log(Cval / hw["C0"] / 1e3), 400_001)
        Nn = np.exp(logN)
        Lv = hw["A"] / Nn ** hw["alpha"] + hw["B"] / (Cval / (hw["C0"] * Nn)) ** hw["beta"]
        n_best = Nn[np.argmin(Lv)]
        N_opt, D_opt = q5.chinchilla_optimal(Cval, **hw)
        assert n_best == pytest.approx(N_opt, rel=1e-3)
        assert D_opt == pytest.approx(Cval / (hw["C0"] * N_opt), rel=1e-12)


def test_exponents_and_prefactors():
    a, b = q5.exponents()
    assert round(a, 4) == 0.4516 and round(b, 4) == 0.5484
    assert a == pytest.approx(0.28 / 0.62, rel=1e-12) and a + b == pytest.approx(1.0, rel=1e-12)
    pN, pD = q5.prefactors()
    assert pN == pytest.approx(0.599, abs=5e-4)
    assert pD == pytest.approx(0.278, abs=5e-4)
    # the homework's rounded statement: N ≈ 0.60 C^0.4516, D ≈ 0.28 C^0.5484
    assert round(pN, 2) == 0.60 and round(pD, 2) == 0.28
    Cval = 3.7e24
    N_opt, D_opt = q5.chinchilla_optimal(Cval, **q5.HOMEWORK)
    assert N_opt == pytest.approx(pN * Cval**a, rel=1e-10)
    assert D_opt == pytest.approx(pD * Cval**b, rel=1e-10)
    # symbolic exponents
    assert q5.exponents(0.5, 0.5) == pytest.approx((0.5, 0.5))


def test_chinchilla_optimal_symbolic_and_mixed():
    N_opt, D_opt = q5.derive_optimal()
    assert q5.chinchilla_optimal(*S.values()) == (N_opt, D_opt)
    # a fresh symbol with the same name and assumptions is the same symbol
    syms = sympy.symbols("C A B alpha beta C0", positive=True)
    assert q5.chinchilla_optimal(*syms) == (N_opt, D_opt)
    Nm, Dm = q5.chinchilla_optimal(q5.C, **q5.HOMEWORK)
    assert Nm.free_symbols == {q5.C}
    assert float(Nm.subs(q5.C, 1e24)) == pytest.approx(q5.chinchilla_optimal(1e24, **q5.HOMEWORK)[0], rel=1e-10)
    # arrays
    Cs = np.array([1e20, 1e24])
    Na, Da = q5.chinchilla_optimal(Cs, **q5.HOMEWORK)
    assert Na.shape == (2,) and np.all(Da > 0)


def test_swapped_exponents_mistake():
    Cval = 1e24
    right = q5.chinchilla_optimal(Cval, **q5.HOMEWORK)
    wrong = q5.chinchilla_optimal_swapped_exponents(Cval, **q5.HOMEWORK)
    a, b = q5.exponents()
    pN, _ = q5.prefactors()
    assert wrong[0] == pytest.approx(pN * Cval**b, rel=1e-10)
    assert abs(wrong[0] / right[0] - 1) > 0.5
    Nw, _ = q5.chinchilla_optimal_swapped_exponents(*S.values())
    assert isinstance(Nw, sympy.Expr)


# --- every number of the homework ------------------------------------------

EXPECTED = {
    # key: (value, relative tolerance around the homework's rounding)
    "q5c_C": (1e30, 1e-12),
    "q5c_D": (1.7e15, 1e-12),
    "q5d_books": (5.95e9, 1e-3),
    "q5f_ssd_dollars": (1e4, 1e-12),
    "q5f_dram_dollars": (8e5, 1e-12),
    "q5g_gpt6_seconds": (41.7, 1e-3),
    "q5g_gpt3_seconds": (0.073, 2e-3),
    "q5h_gpt3_dollars": (66e3, 5e-3),
    "q5h_gpt6_dollars": (2.1e11, 5e-3),
    "q5h_gpt6_days": (195, 3e-3),
    "q5j_dollars": (0.42, 3e-3),
    "q5j_essays": (6e9, 1e-2),   # exactly 5.952e9; the homework rounds to 6e9
    "q5k_ratio": (3.7e6, 6e-3),  # exactly 3.683e6
    "q5l_burgers": (9.8e4, 4e-3),  # exactly 9.770e4
}


def test_q5_answers_keys_and_types():
    ans = q5.ANSWERS
    assert set(ans) == set(EXPECTED) | {"q5b_N_opt", "q5b_D_opt", "q5e_gpus"}
    N_opt, D_opt = q5.derive_optimal()
    assert ans["q5b_N_opt"] == N_opt and ans["q5b_D_opt"] == D_opt
    assert ans["q5e_gpus"] == 20 and isinstance(ans["q5e_gpus"], int)
    for key in EXPECTED:
        assert isinstance(ans[key], float), key


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_q5_homework_numbers(key):
    value, rel = EXPECTED[key]
    assert q5.ANSWERS[key] == pytest.approx(value, rel=rel)


def test_q5_homework_intermediate_numbers():
    # c
    assert q5.compute_for_params(1e14) == pytest.approx(1e30, rel=1e-12)
    assert q5.tokens_for_compute(1e30) == pytest.approx(1.7e15, rel=1e-12)
    # d: ~150x the Library of Congress (~4e7 books)
    assert q5.tokens_to_books(1e15) / 4e7 == pytest.approx(150, rel=1e-2)
    # e: 2 GB for 1e9, 2 TB for 1e12, 20 GPUs
    assert q5.param_bytes(1e9) == 2e9 and q5.param_bytes(1e12) == 2e12
    assert q5.gpus_to_store(1e12) == 20
    assert q5.gpus_to_store(1.75e11) == 4  # 3.5 -> 4, rounded up
    assert q5.gpus_to_store(1e12 + 1) == 21
    assert q5.gpus_to_store(4e11, gpu_bytes=80e9) == 10
    # g: ≈ 1.4 tokens/min and ≈ 14 tokens/s
    assert 60 / q5.seconds_per_token(1e14) == pytest.approx(1.44, rel=1e-3)
    assert 1 / q5.seconds_per_token(1.75e11) == pytest.approx(13.7, rel=1e-2)
    # h: 1 PF-day = 8.64e19 FLOPs ≈ 12.1 GPU-hours ≈ $18; GPT-6 ≈ 1.16e10 PF-days
    one = q5.petaflop_days_to_flops(1)
    assert one == pytest.approx(8.64e19, rel=1e-12)
    assert q5.petaflop_days(one) == pytest.approx(1.0, rel=1e-12)
    assert one / 1.98e15 / 3600 == pytest.approx(12.1, rel=1e-2)
    assert q5.training_cost(one) == pytest.approx(18.2, rel=1e-2)
    assert q5.petaflop_days(1e30) == pytest.approx(1.16e10, rel=1e-2)
    assert q5.training_days(1e30, 3e7) == pytest.approx(194.85, rel=1e-4)
    # j: ≈ 1010 s of one GPU; ≈ 8.3e12 tokens to recoup $1e9
    assert 2 * 1e12 * 1e6 / 1.98e15 == pytest.approx(1010, rel=1e-3)
    assert q5.tokens_to_recoup(1e9) == pytest.approx(8.33e12, rel=1e-3)
    # k: ≈ 1.9e-4 W
    assert q5.landauer_power(1.98e15) == pytest.approx(1.9e-4, rel=1e-2)
    # l: ≈ $6.2e4 (≈ 1 % of a $6M run)
    assert q5.carbon_cost(552) == pytest.approx(61824, rel=1e-12)
    assert q5.carbon_cost(552) / 6e6 == pytest.approx(0.01, rel=0.05)
    assert q5.burgers(552) == pytest.approx(9.77e4, rel=1e-3)


def test_gpus_to_store_float_noise():
    # 0.1 * 3 / 0.3 style noise must not add a GPU
    assert q5.gpus_to_store(3 * 0.1 * 1e12, gpu_bytes=0.3 * 100e9 * 2 / 2, bytes_per_param=1) == 10
    assert q5.gpus_not_rounded(1.75e11) == pytest.approx(3.5)


def test_q5_functions_symbolic_capable():
    x, y = sympy.symbols("x y", positive=True)
    for f in (q5.compute_for_params, q5.tokens_for_compute, q5.tokens_to_books, q5.param_bytes,
              q5.seconds_per_token, q5.petaflop_days, q5.training_cost, q5.tokens_to_recoup,
              q5.landauer_power, q5.carbon_cost, q5.burgers):
        assert isinstance(f(x), sympy.Expr)
    assert sympy.simplify(q5.inference_cost(x, y) - 2 * x * y / 1.98e15 / 3600 * 1.5) == 0
    assert isinstance(q5.storage_cost_per_year(x, y), sympy.Expr)
    assert isinstance(q5.training_days(x, y), sympy.Expr)


def test_q5_known_mistakes_differ():
    assert q5.tokens_to_books_no_pages(1e15) == pytest.approx(300 * q5.tokens_to_books(1e15))
    assert q5.seconds_per_token_4_bytes(1e14) == pytest.approx(2 * q5.seconds_per_token(1e14))
    assert q5.training_cost_per_second(1e30) == pytest.approx(3600 * q5.training_cost(1e30))
    assert q5.inference_cost_1_flop(1e12, 1e6) == pytest.approx(q5.inference_cost(1e12, 1e6) / 2)


def test_reference_modules_do_not_import_torch():
    import subprocess
    code = ("import sys; import reference.q1_lora, reference.q5_chinchilla; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
