"""Tests of the reference layer for Q3 (circuits), Q6 (soft prompts) and
Q7 (pruning / quantization), cross-checked against torch where meaningful."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy
import torch

from reference import q3_circuits as q3
from reference import q6_soft_prompt as q6
from reference import q7_compression as q7

ROOT = Path(__file__).resolve().parents[1]


def rng(seed=0):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------
# Module hygiene
# ---------------------------------------------------------------------------

def test_import_is_cheap_and_torch_free():
    code = (
        "import sys\n"
        "import reference.q3_circuits, reference.q6_soft_prompt, reference.q7_compression\n"
        "bad = [m for m in ('torch', 'sympy') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "import reference.q7_compression as q7\n"
        "q7.ANSWERS\n"
        "assert 'sympy' in sys.modules and 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


@pytest.mark.parametrize("mod", [q3, q6, q7])
def test_answers_fresh_copy_and_dir(mod):
    a = mod.ANSWERS
    assert isinstance(a, dict) and a == mod.answers()
    for key in list(a):
        a[key] = None
    assert mod.ANSWERS == mod.answers() != a
    assert "ANSWERS" in dir(mod)
    with pytest.raises(AttributeError):
        mod.no_such_name


# ---------------------------------------------------------------------------
# Q3
# ---------------------------------------------------------------------------

def test_zero_layer_logits():
    r = rng(1)
    d_model, n_vocab, n_ctx = 4, 7, 5
    W_E = r.normal(size=(d_model, n_vocab))
    W_U = r.normal(size=(n_vocab, d_model))
    toks = r.integers(0, n_vocab, size=n_ctx)
    T = np.eye(n_vocab)[:, toks]
    L = q3.zero_layer_logits(W_E, W_U, T)
    assert L.shape == (n_vocab, n_ctx)
    ref = (torch.tensor(W_U) @ torch.tensor(W_E))[:, torch.tensor(toks)].numpy()
    np.testing.assert_allclose(L, ref, rtol=1e-12)
    # permuting the tokens permutes the logit columns (no context used)
    perm = r.permutation(n_ctx)
    np.testing.assert_allclose(q3.zero_layer_logits(W_E, W_U, T[:, perm]), L[:, perm])


def test_multihead_concat_equals_sum():
    r = rng(2)
    d_model, d_head, n_ctx, H = 6, 2, 5, 3
    W_O = [r.normal(size=(d_model, d_head)) for _ in range(H)]
    rs = [r.normal(size=(d_head, n_ctx)) for _ in range(H)]
    W_O_H = q3.concat_output_matrix(W_O)
    assert W_O_H.shape == (d_model, H * d_head)
    np.testing.assert_array_equal(W_O_H[:, d_head:2 * d_head], W_O[1])
    out_sum = q3.multihead_sum(rs, W_O)
    out_cat = q3.multihead_concat(rs, W_O_H)
    assert out_sum.shape == (d_model, n_ctx)
    np.testing.assert_allclose(out_sum, out_cat, rtol=1e-12, atol=1e-12)
    ref = torch.cat([torch.tensor(w) for w in W_O], 1) @ torch.cat([torch.tensor(x) for x in rs], 0)
    np.testing.assert_allclose(out_cat, ref.numpy(), rtol=1e-12, atol=1e-12)


def test_qk_and_scores_bilinear():
    r = rng(3)
    d_model, d_head, n_ctx = 5, 3, 4
    W_Q = r.normal(size=(d_head, d_model))
    W_K = r.normal(size=(d_head, d_model))
    X = r.normal(size=(d_model, n_ctx))
    W_QK = q3.qk_matrix(W_Q, W_K)
    assert W_QK.shape == (d_model, d_model)
    S = q3.attention_scores(X, W_QK)
    assert S.shape == (n_ctx, n_ctx)
    for i in range(n_ctx):
        for j in range(n_ctx):
            expected = (W_Q @ X[:, i]) @ (W_K @ X[:, j])
            assert S[i, j] == pytest.approx(expected, rel=1e-12, abs=1e-12)
    # torch: queries/keys as rows
    Xt = torch.tensor(X.T)
    ref = (Xt @ torch.tensor(W_Q).T) @ (Xt @ torch.tensor(W_K).T).T
    np.testing.assert_allclose(S, ref.numpy(), rtol=1e-12, atol=1e-12)


def test_toy_qk_answers_agree_with_scores():
    x = np.array([1.0, 0.5, 2.0])
    y = np.array([1.0, -3.0, 2.0])
    toys = {
        "identity": np.eye(3),
        "e11": np.diag([1.0, 0.0, 0.0]),
        "diag_1_0_-1": np.diag([1.0, 0.0, -1.0]),
        "neg_identity": -np.eye(3),
    }
    X = np.stack([x, y], axis=1)
    S = {k: q3.attention_scores(X, W) for k, W in toys.items()}
    assert S["identity"][0, 1] == pytest.approx(x @ y)
    assert S["e11"][0, 1] == pytest.approx(x[0] * y[0])
    assert S["diag_1_0_-1"][0, 1] == pytest.approx(x[0] * y[0] - x[2] * y[2])
    assert S["neg_identity"][0, 1] == pytest.approx(-(x @ y))
    assert q3.ANSWERS["q3c"] == {
        "identity": "similar_all_dims",
        "e11": "dim1_only",
        "diag_1_0_-1": "match_dim1_oppose_dim3",
        "neg_identity": "anti_aligned",
    }


def test_attention_mix_and_residual():
    r = rng(4)
    d_model, n_ctx, H, d_head = 5, 4, 2, 2
    X0 = r.normal(size=(d_model, n_ctx))
    A = r.random(size=(n_ctx, n_ctx))
    A /= A.sum(1, keepdims=True)
    M = q3.attention_mix(X0, A)
    for i in range(n_ctx):
        np.testing.assert_allclose(M[:, i], sum(A[i, j] * X0[:, j] for j in range(n_ctx)))
    W_OVs, As = [], []
    for _ in range(H):
        W_O = r.normal(size=(d_model, d_head))
        W_V = r.normal(size=(d_head, d_model))
        W_OVs.append(q3.ov_matrix(W_O, W_V))
        np.testing.assert_allclose(W_OVs[-1], W_O @ W_V)
        Ah = r.random(size=(n_ctx, n_ctx))
        As.append(Ah / Ah.sum(1, keepdims=True))
    Xf = q3.one_layer_residual(X0, W_OVs, As)
    ref = torch.tensor(X0) + sum(
        torch.tensor(W) @ torch.tensor(X0) @ torch.tensor(Ah).T for W, Ah in zip(W_OVs, As)
    )
    np.testing.assert_allclose(Xf, ref.numpy(), rtol=1e-12, atol=1e-12)
    # a single head writes into Col(W_OV): residual of the projection is ~0
    one = q3.one_layer_residual(X0, W_OVs[:1], As[:1]) - X0
    _, _, U = q3.read_write_subspaces(W_OVs[0])
    np.testing.assert_allclose(one - U @ (U.T @ one), 0, atol=1e-10)


def test_read_write_subspaces():
    r = rng(5)
    d_model, d_head = 7, 3
    W_O = r.normal(size=(d_model, d_head))
    W_V = r.normal(size=(d_head, d_model))
    W_OV = q3.ov_matrix(W_O, W_V)
    V, sigma, U = q3.read_write_subspaces(W_OV)
    rank = sigma.shape[0]
    assert rank <= d_head and rank == 3
    assert V.shape == (d_model, rank) and U.shape == (d_model, rank)
    np.testing.assert_allclose(V.T @ V, np.eye(rank), atol=1e-12)
    np.testing.assert_allclose(U.T @ U, np.eye(rank), atol=1e-12)
    assert np.all(np.diff(sigma) <= 0) and np.all(sigma > 0)
    np.testing.assert_allclose(U @ np.diag(sigma) @ V.T, W_OV, atol=1e-12)
    x = r.normal(size=d_model)
    np.testing.assert_allclose(
        W_OV @ x, sum(sigma[k] * (V[:, k] @ x) * U[:, k] for k in range(rank)), atol=1e-12
    )
    # inputs orthogonal to the read subspace map to ~0
    x_perp = x - V @ (V.T @ x)
    assert np.linalg.norm(x_perp) > 0.1
    np.testing.assert_allclose(W_OV @ x_perp, 0, atol=1e-12)
    # singular values agree with torch
    np.testing.assert_allclose(sigma, torch.linalg.svdvals(torch.tensor(W_OV))[:rank].numpy(), rtol=1e-10)
    # tol: dropping small singular values; zero matrix gives rank 0
    W2 = U[:, :2] @ np.diag([3.0, 1e-12]) @ V[:, :2].T
    assert q3.read_write_subspaces(W2)[1].shape == (1,)
    assert q3.read_write_subspaces(W2, tol=1e-15)[1].shape == (2,)
    V0, s0, U0 = q3.read_write_subspaces(np.zeros((4, 4)))
    assert V0.shape == (4, 0) and s0.shape == (0,) and U0.shape == (4, 0)


def test_rank_bound_answer():
    bound = q3.ANSWERS["q3e_rank_bound"]
    assert isinstance(bound, sympy.Expr)
    assert sympy.simplify(bound - q3.d_head) == 0
    assert q3.d_head.is_positive and q3.d_model.is_positive
    # equals Min(d_head, d_model) wherever d_head <= d_model
    for dh, dm in [(1, 1), (2, 7), (64, 768), (3.5, 10)]:
        assert float(bound.subs({q3.d_head: dh, q3.d_model: dm})) == min(dh, dm)


# ---------------------------------------------------------------------------
# Q6
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("n,d_model,d_head,batch", [(7, 5, 3, ()), (1, 4, 2, ()), (6, 3, 8, (2,))])
def test_causal_self_attention_vs_torch(n, d_model, d_head, batch):
    r = rng(6 + n)
    X = r.normal(size=batch + (n, d_model))
    W_Q, W_K, W_V = (r.normal(size=(d_model, d_head)) for _ in range(3))
    out = q6.causal_self_attention(X, W_Q, W_K, W_V)
    assert out.shape == batch + (n, d_head)
    Xt = torch.tensor(X)
    q, k, v = (Xt @ torch.tensor(W) for W in (W_Q, W_K, W_V))
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_allclose(out, ref.numpy(), rtol=1e-10, atol=1e-12)


def test_causal_self_attention_stable_and_prefix_independent():
    r = rng(7)
    n, d_model, d_head = 6, 4, 3
    X = r.normal(size=(n, d_model)) * 300.0  # huge scores: naive softmax overflows
    W_Q, W_K, W_V = (r.normal(size=(d_model, d_head)) for _ in range(3))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = q6.causal_self_attention(X, W_Q, W_K, W_V)
    assert np.all(np.isfinite(out))
    # the first K positions depend only on the first K tokens (q6c(i))
    K = 3
    X2 = X.copy()
    X2[K:] = r.normal(size=(n - K, d_model))
    np.testing.assert_allclose(q6.causal_self_attention(X2, W_Q, W_K, W_V)[:K], out[:K])


def test_loss_output_positions_and_answers():
    assert q6.loss_output_positions([5, 3, 3, 10]) == [2, 4, 9]
    assert q6.loss_output_positions(torch.tensor([2, 1])) == [0, 1]
    assert q6.loss_output_positions(p for p in (4, 2)) == [1, 3]
    assert all(type(p) is int for p in q6.loss_output_positions(np.array([7, 8])))
    a = q6.ANSWERS
    assert a["q6a"] == list(range(50, 72))
    E = q6.E
    assert E.is_positive
    assert sympy.simplify(a["q6b"] - 5 * E) == 0
    assert a["q6c"] == [True, True, False, False]
    n_tok, e = sympy.symbols("n_tok e", positive=True)
    assert sympy.simplify(q6.soft_prompt_params(n_tok, e) - n_tok * e) == 0
    assert q6.soft_prompt_params(5, 768) == 3840


# ---------------------------------------------------------------------------
# Q7
# ---------------------------------------------------------------------------

def _distinct_weights(r, shape):
    # no zeros, distinct magnitudes
    mags = r.permutation(np.arange(1, int(np.prod(shape)) + 1)) * 0.01 + r.random() * 1e-3
    signs = r.choice([-1.0, 1.0], size=mags.size)
    return (mags * signs).reshape(shape)


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.55, 0.9, 1.0])
def test_magnitude_prune(sparsity):
    r = rng(8)
    W = _distinct_weights(r, (6, 9))
    Wp = q7.magnitude_prune(W, sparsity)
    k = round(sparsity * W.size)
    assert Wp.shape == W.shape
    assert np.count_nonzero(Wp == 0) == k
    kept = Wp != 0
    np.testing.assert_array_equal(Wp[kept], W[kept])
    if 0 < k < W.size:
        assert np.abs(W[~kept]).max() < np.abs(W[kept]).min()
    # agrees with torch.topk-based pruning
    Wt = torch.tensor(W).flatten()
    ref = Wt.clone()
    if k:
        ref[torch.topk(Wt.abs(), k, largest=False).indices] = 0
    np.testing.assert_array_equal(Wp.ravel(), ref.numpy())
    assert np.count_nonzero(W == 0) == 0  # input untouched


def test_channel_prune_fraction():
    assert q7.channel_prune_compute_fraction(0.3) == pytest.approx(0.49, rel=1e-12)
    assert q7.ANSWERS["q7a_compute_left"] == pytest.approx(0.49, rel=1e-12)
    p = sympy.Symbol("p", positive=True)
    assert sympy.expand(q7.channel_prune_compute_fraction(p) - (1 - p) ** 2) == 0
    # MAC count of a conv layer with in/out channels cut by 30 %
    c_in, c_out = 100, 200
    assert (70 * 140) / (c_in * c_out) == pytest.approx(q7.channel_prune_compute_fraction(0.3))
    assert q7.ANSWERS["q7a_phone"] == "channel"


def _check_lloyd_fixed_point(W, codebook, labels, bits):
    assert codebook.ndim == 1 and 1 <= codebook.size <= 2 ** bits
    assert labels.shape == W.shape and labels.dtype == np.int64
    # each weight nearest to its centroid
    d = np.abs(W[..., None] - codebook)
    own = np.take_along_axis(d, labels[..., None], axis=-1)[..., 0]
    assert np.all(own <= d.min(axis=-1) + 1e-12)
    # each used centroid is the mean of its weights
    for c in np.unique(labels):
        assert codebook[c] == pytest.approx(W[labels == c].mean(), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("bits,shape,seed", [(2, (40, 30), 0), (3, (17, 11), 1), (4, (50, 20), 2), (1, (9,), 3)])
def test_kmeans_fixed_point(bits, shape, seed):
    r = rng(20 + seed)
    W = np.concatenate([r.normal(size=int(np.prod(shape)) - 5), r.normal(4.0, 0.1, size=5)])
    W = r.permutation(W).reshape(shape)
    codebook, labels = q7.kmeans_quantize(W, bits, n_iter=500)
    _check_lloyd_fixed_point(W, codebook, labels, bits)
    assert np.all(np.diff(codebook) > 0)
    # deterministic; generator ignored
    cb2, lb2 = q7.kmeans_quantize(W, bits, n_iter=500, generator=torch.Generator().manual_seed(1))
    np.testing.assert_array_equal(cb2, codebook)
    np.testing.assert_array_equal(lb2, labels)
    # SSE: Lloyd never increases it vs the initial linear grid assignment
    sse = q7.kmeans_sse(W, codebook, labels)
    cb0, lb0 = q7.kmeans_quantize(W, bits, n_iter=0)
    assert sse <= q7.kmeans_sse(W, cb0, lb0) + 1e-12
    assert sse == pytest.approx(float(((W - codebook[labels]) ** 2).sum()))


def test_kmeans_few_distinct_values_drops_empty_clusters():
    W = np.array([[0.0, 0.0, 1.0], [5.0, 5.0, 1.0]])
    codebook, labels = q7.kmeans_quantize(W, 3, n_iter=500)
    np.testing.assert_allclose(codebook, [0.0, 1.0, 5.0])
    np.testing.assert_array_equal(codebook[labels], W)
    cb, lb = q7.kmeans_quantize(np.full((2, 2), 0.7), 2)
    np.testing.assert_array_equal(cb, [0.7])
    np.testing.assert_array_equal(lb, np.zeros((2, 2)))
    assert q7.ANSWERS["q7b_kmeans_values"] == 16


def test_kmeans_default_n_iter_labels_nearest():
    # even when not converged, labels point to the nearest returned centroid
    r = rng(30)
    W = r.standard_cauchy(size=(64, 64))
    codebook, labels = q7.kmeans_quantize(W, 4, n_iter=1)
    d = np.abs(W[..., None] - codebook)
    own = np.take_along_axis(d, labels[..., None], axis=-1)[..., 0]
    assert np.all(own <= d.min(axis=-1) + 1e-12)


QUANT_CASES = [(-1.3, 2.7, -128, 127), (0.2, 5.0, 0, 255), (-3.0, -0.5, -8, 7), (-0.7, 0.9, 3, 60)]


@pytest.mark.parametrize("r_min,r_max,q_min,q_max", QUANT_CASES)
def test_linear_quantization(r_min, r_max, q_min, q_max):
    S, Z = q7.linear_quant_params(r_min, r_max, q_min, q_max)
    assert type(Z) is int
    assert S == pytest.approx((r_max - r_min) / (q_max - q_min), rel=1e-12)
    assert Z == round(q_min - r_min / S)
    # the range ends map to the code ends (up to Z's rounding, then clamped)
    ends = q7.linear_quantize(np.array([r_min, r_max]), S, Z, q_min, q_max)
    assert ends.dtype == np.int64
    assert list(ends) == [q_min, q_max]
    # round trip error <= S/2 for values whose code is not clamped
    r = np.linspace(r_min, r_max, 1001)
    q = q7.linear_quantize(r, S, Z, q_min, q_max)
    assert q.min() >= q_min and q.max() <= q_max
    back = q7.linear_dequantize(q, S, Z)
    inside = (np.round(r / S) + Z >= q_min) & (np.round(r / S) + Z <= q_max)
    assert inside.mean() > 0.9
    assert np.all(np.abs(back[inside] - r[inside]) <= S / 2 + 1e-12)
    # clamping far outside the range
    far = q7.linear_quantize(np.array([r_min - 10 * (r_max - r_min), r_max + 10 * (r_max - r_min)]), S, Z, q_min, q_max)
    assert list(far) == [q_min, q_max]
    # torch cross-check (per-tensor affine quantization: round(r/S) + Z, clamped)
    ref = torch.clamp(torch.round(torch.tensor(r) / S) + Z, q_min, q_max).to(torch.int64)
    np.testing.assert_array_equal(q, ref.numpy())
    np.testing.assert_allclose(back, S * (q - Z))


def test_quantization_answers_derived():
    a = q7.ANSWERS
    rmin, rmax, qmin, qmax = q7.r_min, q7.r_max, q7.q_min, q7.q_max
    for s in (rmin, rmax, qmin, qmax, q7.n):
        assert s.is_positive
    assert a["q7b_scale"].free_symbols == {rmin, rmax, qmin, qmax}
    points = [(0.5, 3.0, 1.0, 255.0), (1.7, 2.1, 4.0, 9.0), (0.01, 100.0, 3.0, 1000.0)]
    for vals in points:
        sub = dict(zip((rmin, rmax, qmin, qmax), vals))
        r_lo, r_hi, q_lo, q_hi = vals
        S = (r_hi - r_lo) / (q_hi - q_lo)
        assert float(a["q7b_scale"].subs(sub)) == pytest.approx(S, rel=1e-12)
        assert float(a["q7b_zero_point"].subs(sub)) == pytest.approx(q_lo - r_lo / S, rel=1e-12)
        S_ref, Z_ref = q7.linear_quant_params(*vals)
        assert S_ref == pytest.approx(S) and Z_ref == round(float(a["q7b_zero_point"].subs(sub)))
    nb = a["q7b_nbit_values"]
    assert sympy.simplify(nb - 2 ** q7.n) == 0
    assert [int(nb.subs(q7.n, k)) for k in (1, 4, 8)] == [2, 16, 256]


# ---------------------------------------------------------------------------
# Known mistakes differ from the right answers on non-degenerate inputs
# ---------------------------------------------------------------------------

def _differs(a, b):
    if isinstance(a, (tuple, list)) and not isinstance(a, np.ndarray):
        return any(_differs(x, y) for x, y in zip(a, b)) or type(a[-1]) is not type(b[-1])
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape != b.shape or not np.allclose(a, b, rtol=1e-6, atol=1e-9)


def _mistake_cases():
    r = rng(40)
    d_model, d_head, n_ctx = 5, 3, 4
    X3 = r.normal(size=(d_model, n_ctx))
    A = r.random(size=(n_ctx, n_ctx))
    A /= A.sum(1, keepdims=True)
    W_QK = r.normal(size=(d_model, d_model))
    W_Q, W_K = r.normal(size=(d_head, d_model)), r.normal(size=(d_head, d_model))
    X6 = r.normal(size=(6, d_model))
    W6 = tuple(r.normal(size=(d_model, d_head)) for _ in range(3))
    W7 = _distinct_weights(r, (5, 8))
    q_args = (-1.3, 2.7, -128, 127)
    return [
        (q3.qk_matrix, q3.qk_matrix_transposed, (W_Q, W_K)),
        (q3.attention_mix, q3.attention_mix_untransposed, (X3, A)),
        (q3.attention_scores, q3.attention_scores_transposed, (X3, W_QK)),
        (q6.causal_self_attention, q6.causal_self_attention_no_mask, (X6, *W6)),
        (q6.causal_self_attention, q6.causal_self_attention_no_scale, (X6, *W6)),
        (q6.causal_self_attention, q6.causal_self_attention_softmax_wrong_axis, (X6, *W6)),
        (q6.loss_output_positions, q6.loss_output_positions_no_shift, (range(51, 73),)),
        (q7.linear_quant_params, q7.linear_quant_params_scale_sum, q_args),
        (q7.linear_quant_params, q7.linear_quant_params_wrong_sign_z, q_args),
        (q7.linear_quant_params, q7.linear_quant_params_unrounded_z, q_args),
        (q7.magnitude_prune, q7.magnitude_prune_largest, (W7, 0.4)),
    ]


@pytest.mark.parametrize("right,wrong,args", _mistake_cases(), ids=lambda v: getattr(v, "__name__", ""))
def test_known_mistake_differs(right, wrong, args):
    assert _differs(right(*args), wrong(*args))


def test_known_mistake_values():
    assert q3.qk_matrix_transposed(np.eye(2, 3), 2 * np.eye(2, 3)).tolist() == (2 * np.eye(2, 3).T @ np.eye(2, 3)).tolist()
    assert q6.loss_output_positions_no_shift([3, 1, 3]) == [1, 3]
    S, Z = q7.linear_quant_params_scale_sum(-1.0, 3.0, -8, 7)
    assert S == pytest.approx(4.0 / -1.0) and Z == round(-8 - (-1.0) / S)
    S, Z = q7.linear_quant_params_wrong_sign_z(-1.3, 2.7, -128, 127)
    assert Z == round(-128 + (-1.3) / S)
    S, Z = q7.linear_quant_params_unrounded_z(-1.3, 2.7, -128, 127)
    assert isinstance(Z, float) and Z == pytest.approx(-128 + 1.3 / S)
    W = np.array([[1.0, -4.0], [2.0, 3.0]])
    np.testing.assert_array_equal(q7.magnitude_prune_largest(W, 0.5), [[1.0, 0.0], [2.0, 0.0]])
    np.testing.assert_array_equal(q7.magnitude_prune(W, 0.5), [[0.0, -4.0], [0.0, 3.0]])
    # every function listed in KNOWN_MISTAKES is a real function of its module
    for mod in (q3, q6, q7):
        for name, entries in mod.KNOWN_MISTAKES.items():
            assert callable(getattr(mod, name))
            for fn, msg in entries:
                assert getattr(mod, fn.__name__) is fn and msg
