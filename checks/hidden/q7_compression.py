"""Hidden checks of q7_compression (run only at grading time; never in the student kit).

They share their helpers with the public checks in ``checks/q7_compression.py``.
"""
import numpy as np

from hw11grader.authoring import check, expect, given, st
from hw11grader.authoring import Failed
from reference import q7_compression as ref

from .._common import seeds
from ..q7_compression import KMEANS_FIXED_POINT_ITERS, KMEANS_SSE_ATOL, KMEANS_SSE_RTOL, _kmeans, _student_params, _values, quant_ranges


def _spread_weights(m, n, seed):
    """Evenly spread weights (jittered grid, shuffled): k-means has one clear optimum."""
    rng = np.random.default_rng(seed)
    size = m * n
    x = (np.arange(size) + rng.uniform(0.2, 0.8, size)) / size * 2 - 1
    return (rng.permutation(x) * rng.uniform(0.1, 3) + rng.uniform(-1, 1)).reshape(m, n)


@check("q7.kmeans_quantize.error_vs_reference", uses="kmeans_quantize")
@given(m=st.integers(6, 14), n=st.integers(7, 18), bits=st.integers(1, 2), seed=seeds())
def kmeans_error_vs_reference(sub, m, n, bits, seed):
    """The quantization error sum((W - codebook[labels])**2) is at most 10 % (+ 1e-12 sum(W**2))
    above the reference's k-means (linspace initialisation) on evenly spread weights."""
    W = _spread_weights(m, n, seed)
    codebook, labels, _, where = _kmeans(sub, W, bits, n_iter=KMEANS_FIXED_POINT_ITERS)
    got = ref.kmeans_sse(W, codebook, labels)
    rcb, rlab = ref.kmeans_quantize(W, bits, n_iter=KMEANS_FIXED_POINT_ITERS)
    best = ref.kmeans_sse(W, rcb, rlab)
    limit = (1 + KMEANS_SSE_RTOL) * best + KMEANS_SSE_ATOL * float(np.sum(W ** 2))
    if not got <= limit:
        raise Failed(f"{where}: the quantization error sum((W - codebook[labels])**2) is {expect.g(got)}, "
                     f"more than {KMEANS_SSE_RTOL:.0%} above the reference k-means' {expect.g(best)} "
                     f"({len(np.unique(labels))} centroids used of at most {2 ** bits}). Check that the centroids "
                     "move to the means of their weights until the labels stop changing, and start them "
                     "inside the range of W (e.g. evenly spaced from W.min() to W.max()) so that none stays empty.")


def _own_pipeline(sub, rng_, r):
    r_min, r_max, q_min, q_max = rng_
    S, Z, call = _student_params(sub, *rng_)
    q = sub.linear_quantize(r, S, Z, q_min, q_max)
    return S, Z, q, f"with (S, Z) = {call} = ({S:.10g}, {Z:.10g})"


@check("q7.linear_quantize.range_endpoints", uses=("linear_quant_params", "linear_quantize"))
@given(rng_=quant_ranges())
def linear_quantize_range_endpoints(sub, rng_):
    """With its own (S, Z), linear_quantize maps r_min to q_min and r_max to q_max (within 1)."""
    r_min, r_max, q_min, q_max = rng_
    r = np.array([r_min, r_max])
    S, Z, q, with_ = _own_pipeline(sub, rng_, r)
    got, _ = expect.as_array(q, what="linear_quantize([r_min, r_max], S, Z, q_min, q_max)")
    got = got.ravel()
    if got.size != 2 or abs(got[0] - q_min) > 1 or abs(got[1] - q_max) > 1:
        raise Failed(f"linear_quantize([r_min, r_max], S, Z, q_min={q_min}, q_max={q_max}) {with_} gives "
                     f"{expect.show(got, 7)}; r_min should map to q_min = {q_min} and r_max to q_max = {q_max} "
                     "(within 1)")


@check("q7.linear_quantize.round_trip",
       uses=("linear_quant_params", "linear_quantize", "linear_dequantize"))
@given(rng_=quant_ranges(), seed=seeds())
def linear_quantize_round_trip(sub, rng_, seed):
    """Inside [r_min, r_max], linear_dequantize(linear_quantize(r)) is within S/2 of r
    (with the submission's own S and Z)."""
    r_min, r_max, q_min, q_max = rng_
    S_ref, _ = ref.linear_quant_params(*rng_)
    r = np.concatenate([[r_min, r_max], _values(r_min, r_max, S_ref, seed, 10, outside=False)])
    S, Z, q, with_ = _own_pipeline(sub, rng_, r)
    qa, _ = expect.as_array(q, what="linear_quantize(r, S, Z, q_min, q_max)")
    back, _ = expect.as_array(sub.linear_dequantize(qa.astype(np.float64), S, Z),
                              what="linear_dequantize(q, S, Z)")
    if back.shape != r.shape:
        raise Failed(f"linear_dequantize(linear_quantize(r, ...), S, Z) {with_} has shape {back.shape}, "
                     f"expected r's shape {r.shape}")
    eps = 1e-6 * max(abs(r_min), abs(r_max))
    err = np.abs(back - r)
    if not np.all(err <= abs(S) / 2 + eps):
        i = int(np.argmax(err))
        raise Failed(f"linear_dequantize(linear_quantize(r, S, Z, q_min={q_min}, q_max={q_max}), S, Z) {with_}: "
                     f"r = {r[i]:.10g} comes back as {expect.g(back[i])}, off by {expect.g(err[i])} > S/2 = "
                     f"{expect.g(abs(S) / 2)} (r is inside [r_min, r_max] = [{r_min:.6g}, {r_max:.6g}])")
