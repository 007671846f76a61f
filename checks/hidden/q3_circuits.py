"""Hidden checks of q3_circuits (run only at grading time; never in the student kit).

They share their helpers with the public checks in ``checks/q3_circuits.py``.
"""
import numpy as np

from hw11grader.authoring import check, expect, given, st
from hw11grader.authoring import Failed
from reference import q3_circuits as ref

from .._common import described, matrices, seeds
from ..q3_circuits import FORGOT_X0, HINTS, REVERSED, VSTACK, _array, _close, _distinct, _heads, _mistakes, _qk_shapes, _row_stochastic, _small, _svd


@check("q3.multihead_concat.equals_sum", uses=["concat_output_matrix", "multihead_concat", "multihead_sum"])
@given(H=st.integers(2, 4), sizes=_distinct(3), seed=seeds())
def multihead_concat_equals_sum(sub, H, sizes, seed):
    """b(i): multihead_concat(r, concat_output_matrix(W_O_heads)) == multihead_sum(r, W_O_heads)."""
    d_head, d_model, n_ctx = sizes
    W_O, r = _heads(seed, H, d_head, d_model, n_ctx)
    where = f"H={H}, d_head={d_head}, d_model={d_model}, n_ctx={n_ctx}, seed={seed}"
    W_O_H, _ = _array(sub.concat_output_matrix(W_O), "concat_output_matrix(W_O_heads)", where)
    if W_O_H.shape != (d_model, H * d_head):
        raise Failed(f"{where}: concat_output_matrix(W_O_heads) has shape {W_O_H.shape}, expected "
                     f"{(d_model, H * d_head)} (d_model x H*d_head), so it cannot be combined with the stacked "
                     f"head outputs.\n    Hint: {VSTACK}")
    via_sum, rtol_sum = _array(sub.multihead_sum(r, W_O), "multihead_sum(r_heads, W_O_heads)", where)
    via_cat, rtol_cat = _array(sub.multihead_concat(r, W_O_H),
                               "multihead_concat(r_heads, concat_output_matrix(W_O_heads))", where)
    _close(actual=via_cat, expected=via_sum,
           what="multihead_concat(r_heads, concat_output_matrix(W_O_heads)) compared with "
                "multihead_sum(r_heads, W_O_heads)", where=where, rtol=max(rtol_sum, rtol_cat),
           mistakes={REVERSED: ref.multihead_concat(r, np.hstack(W_O[::-1]))})


@check("q3.attention_mix.convex_combination", uses="attention_mix")
@given(sizes=_distinct(2), seed=seeds())
def attention_mix_convex_combination(sub, sizes, seed):
    """d(i): with a causal row-stochastic A, column i is a convex combination of columns j <= i."""
    d_model, n_ctx = sizes
    (X,) = matrices(seed, (d_model, n_ctx))
    A = _row_stochastic(seed + 1, n_ctx)
    where = (f"attention_mix(X, A) with a causal row-stochastic A (rows sum to 1), d_model={d_model}, "
             f"n_ctx={n_ctx}, seed={seed} ({described(A=A)})")
    M, rtol = _array(sub.attention_mix(X, A), "M", where)
    if M.shape != (d_model, n_ctx):
        raise Failed(f"{where}: M has shape {M.shape}, expected {(d_model, n_ctx)}")
    scale = float(np.max(np.abs(X)))
    slack = 10 * rtol * scale
    for i in range(n_ctx):
        lo, hi = X[:, : i + 1].min(axis=1), X[:, : i + 1].max(axis=1)
        outside = (M[:, i] < lo - slack) | (M[:, i] > hi + slack)
        if outside.any():
            k = int(np.argmax(outside))
            hint = ""
            wrong = ref.attention_mix_untransposed(X, A)
            if np.allclose(M, wrong, rtol=10 * rtol, atol=slack):
                hint = "\n    Hint: " + next(iter(HINTS["attention_mix"]))
            raise Failed(f"{where}: column {i} of M is not a convex combination of the source columns "
                         f"X[:, 0..{i}] it attends to: its entry {k} is {expect.g(M[k, i])}, outside "
                         f"[{expect.g(lo[k])}, {expect.g(hi[k])}]{hint}")
    _close(actual=M, expected=ref.attention_mix(X, A), what="M", where=where, rtol=rtol,
           mistakes=_mistakes("attention_mix", X, A))


@check("q3.one_layer_residual.writes_in_column_space", uses="one_layer_residual")
@given(sizes=_qk_shapes(), seed=seeds())
def one_layer_residual_writes_in_column_space(sub, sizes, seed):
    """d(iii): one head with W_OV = W_O @ W_V (rank d_head < d_model): X_final - X0 lies in Col(W_OV)."""
    d_head, d_model, n_ctx = sizes
    X0, W_O, W_V = matrices(seed, (d_model, n_ctx), (d_model, d_head), (d_head, d_model))
    W_OV = W_O @ W_V
    A = _row_stochastic(seed + 1, n_ctx)
    where = (f"one_layer_residual(X0, [W_OV], [A]) with one head, W_OV = W_O @ W_V of rank d_head={d_head} < "
             f"d_model={d_model}, n_ctx={n_ctx}, seed={seed}")
    X_final, rtol = _array(sub.one_layer_residual(X0, [W_OV], [A]), "X_final", where)
    if X_final.shape != (d_model, n_ctx):
        raise Failed(f"{where}: X_final has shape {X_final.shape}, expected {(d_model, n_ctx)}")
    Q, _ = np.linalg.qr(W_O)  # orthonormal basis of Col(W_OV) = Col(W_O)
    update = X_final - X0
    outside = update - Q @ (Q.T @ update)
    scale = max(float(np.max(np.abs(X0))), float(np.max(np.abs(W_OV @ X0 @ A.T))))
    hint = FORGOT_X0 if np.allclose(X_final, W_OV @ X0 @ A.T, rtol=10 * rtol, atol=10 * rtol * scale) else (
        "the head's output W_OV @ X0 @ A.T = W_OV @ (X0 @ A.T) only has columns W_OV @ v, so it lies in Col(W_OV).")
    _small(outside, scale=scale, rtol=rtol, where=where,
           what="the head's update X_final - X0 should lie in the column space of W_OV; its component outside it",
           hint=hint)


@check("q3.read_write_subspaces.tol", uses="read_write_subspaces")
@given(d_model=st.integers(4, 6), seed=seeds())
def read_write_subspaces_tol(sub, d_model, seed):
    """The tol keyword: keep sigma > tol * sigma_max (graded singular values 3, 0.3, 0.03, ...)."""
    P, Q = matrices(seed, (d_model, d_model), (d_model, d_model))
    P, Q = np.linalg.qr(P)[0], np.linalg.qr(Q)[0]
    sigma = 3.0 * 0.1 ** np.arange(d_model)
    W = P @ np.diag(sigma) @ Q.T
    for tol in (None, 0.05, 0.005):
        kwargs = {} if tol is None else {"tol": tol}
        keep = sigma[sigma > (1e-9 if tol is None else tol) * sigma[0]]
        call = "read_write_subspaces(W_OV" + ("" if tol is None else f", tol={tol}") + ")"
        where = (f"{call} with W_OV of singular values {expect.show(sigma, 3)}, d_model={d_model}, seed={seed}")
        _, s, _, rtol = _svd(sub, W, where, **kwargs)
        if s.shape[0] != keep.shape[0]:
            raise Failed(f"{where}: kept {s.shape[0]} singular values {expect.show(np.sort(s)[::-1], 4)}; "
                         f"expected the {keep.shape[0]} above tol * sigma_max")
        _close(actual=np.sort(s)[::-1].copy(), expected=keep, rtol=rtol, where=where,
               what="sigma (sorted in descending order)")
