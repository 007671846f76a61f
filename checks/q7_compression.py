"""Q7 pruning and quantization.

Inputs are built so that no special case hides a mistake: weight matrices
without zeros and with distinct magnitudes (non-square shapes included),
sparsities whose ``sparsity * numel`` is never near a .5 rounding tie,
quantization ranges with ``q_min != 0`` and ``r_min != -r_max`` and values
whose ``r / S`` is never near a .5 rounding tie (round-half-even and
round-half-up agree on every input).  ``q7a_most_sensitive`` is checked
elsewhere (the grader's sensitivity experiment).
"""
import numpy as np

from hw11grader.authoring import symbolic
from hw11grader.authoring import Generator, check, example, expect, given, st
from hw11grader.authoring import Failed
from hw11grader.authoring import TapeMiss
from reference import q7_compression as ref

from ._common import call_with_symbols, edge_case, log_uniform, seeds


# The answer key (its symbolic parts: sympy), derived while the submission's process starts
# (runner._while_loading)
warm_up = ref.answers


_HINTS = {fn.__name__: hint for mistakes in ref.KNOWN_MISTAKES.values() for fn, hint in mistakes}
PRUNE_LARGEST = _HINTS["magnitude_prune_largest"]
SCALE_SUM = _HINTS["linear_quant_params_scale_sum"]
Z_SIGN = _HINTS["linear_quant_params_wrong_sign_z"]
Z_UNROUNDED = _HINTS["linear_quant_params_unrounded_z"]
NOT_SQUARED = ("MACs scale with (input channels) x (output channels), and both shrink by the factor "
               "(1 - p): the fraction left is that factor squared, not 1 - p.")
NO_CLAMP = ("values outside [r_min, r_max] must be clamped to [q_min, q_max]: "
            "q = clamp(round(r / S) + Z, q_min, q_max).")

KMEANS_FIXED_POINT_ITERS = 500
KMEANS_SSE_RTOL = 0.10  # relative slack on the reference's k-means error
KMEANS_SSE_ATOL = 1e-12  # times sum(W**2)


def _w(W, limit=40):
    """W for a message: its shape, and its values when small."""
    shape = "x".join(str(s) for s in W.shape)
    if W.size > limit:
        return f"W of shape {shape}"
    rows = np.array2string(W, precision=4, separator=", ", max_line_width=10_000,
                           formatter={"float_kind": lambda v: f"{v:.4g}"})
    return f"W of shape {shape} = {' '.join(rows.split())}"


def _scalar(value, what):
    arr, _ = expect.as_array(value, what=what)
    if arr.size != 1:
        raise Failed(f"{what} should be a single number, got an array of shape {arr.shape}")
    return float(arr.reshape(()))


# ---------------------------------------------------------------- pruning

def _prune_input(m, n, seed):
    """No zeros, distinct magnitudes (at least 0.2/numel apart, relative to the largest), random signs."""
    rng = np.random.default_rng(seed)
    size = m * n
    mags = (rng.permutation(size) + 1 + rng.uniform(0.1, 0.9, size)) / size
    signs = rng.choice([-1.0, 1.0], size)
    return (signs * mags * rng.uniform(0.1, 10)).reshape(m, n)


# The edge cases every pruning check tries first: no entry to zero (4 x 5 at 2 %), and every entry
PRUNE_NOTHING = (4, 5, 0.02, 11)
PRUNE_EVERYTHING = (3, 4, 1.0, 12)


@st.composite
def prune_cases(draw):
    m, n = draw(st.integers(1, 7)), draw(st.integers(2, 9))
    k = draw(st.integers(0, m * n))  # entries to zero
    offset = draw(st.integers(-40, 40)) / 100  # never within 0.1 of a .5 tie
    sparsity = min(max((k + offset) / (m * n), 0.0), 1.0)
    return m, n, sparsity, draw(seeds())


def _prune_edge(W, sparsity):
    """Which known edge case of magnitude pruning this input is (None: none)."""
    k = int(round(sparsity * W.size))
    counted = f"round(sparsity * W.numel()) = round({expect.g(sparsity)} * {W.size}) = {k}"
    if k == 0:
        return f"no entries to zero ({counted})"
    if k == W.size:
        return f"every entry zeroed ({counted}, all of W)"
    return None


def _pruned(sub, W, sparsity):
    where = f"magnitude_prune(W, sparsity={sparsity:.6g}) with {_w(W)}"
    with edge_case(_prune_edge(W, sparsity)):
        returned = sub.magnitude_prune(W, sparsity)
    out, _ = expect.as_array(returned, what=f"{where}: the result")
    if out.shape != W.shape:
        raise Failed(f"{where}: the result has shape {out.shape}, expected W's shape {W.shape}")
    return out, where


@check("q7.magnitude_prune.zero_count", uses="magnitude_prune")
@given(case=prune_cases())
@example(case=PRUNE_NOTHING)
@example(case=PRUNE_EVERYTHING)
def magnitude_prune_zero_count(sub, case):
    """Exactly round(sparsity * W.numel()) entries are zero (W itself has none)."""
    m, n, sparsity, seed = case
    W = _prune_input(m, n, seed)
    out, where = _pruned(sub, W, sparsity)
    want = int(round(sparsity * W.size))
    got = int(np.sum(out == 0))
    if got != want:
        raise Failed(f"{where}: {got} entries are zero, expected round(sparsity * numel) = "
                     f"round({expect.g(sparsity * W.size)}) = {want} (W has no zeros)")


@check("q7.magnitude_prune.kept_unchanged", uses="magnitude_prune")
@given(case=prune_cases())
@example(case=PRUNE_NOTHING)
@example(case=PRUNE_EVERYTHING)
def magnitude_prune_kept_unchanged(sub, case):
    """Every entry that is not zeroed keeps its value exactly (sign included)."""
    m, n, sparsity, seed = case
    W = _prune_input(m, n, seed)
    out, where = _pruned(sub, W, sparsity)
    kept = out != 0
    changed = kept & ~np.isclose(out, W, rtol=1e-6, atol=0)
    if changed.any():
        i = tuple(int(x) for x in np.argwhere(changed)[0])
        raise Failed(f"{where}: the kept entry at index {list(i)} changed from {expect.g(W[i])} to "
                     f"{expect.g(out[i])}; entries that are not pruned must stay unchanged")


@check("q7.magnitude_prune.smallest_removed", uses="magnitude_prune")
@given(case=prune_cases())
@example(case=PRUNE_NOTHING)
@example(case=PRUNE_EVERYTHING)
def magnitude_prune_smallest_removed(sub, case):
    """The zeroed entries are the smallest in magnitude: every kept |w| beats every pruned |w|."""
    m, n, sparsity, seed = case
    W = _prune_input(m, n, seed)
    out, where = _pruned(sub, W, sparsity)
    pruned, kept = out == 0, out != 0
    if not pruned.any() or not kept.any():
        return
    mag = np.abs(W)
    small_kept = np.argwhere(kept & (mag == mag[kept].min()))[0]
    big_pruned = np.argwhere(pruned & (mag == mag[pruned].max()))[0]
    if mag[tuple(small_kept)] < mag[tuple(big_pruned)]:
        wrong = ref.magnitude_prune_largest(W, sparsity)
        hint = PRUNE_LARGEST if np.array_equal(out == 0, wrong == 0) else None
        a, b = tuple(int(x) for x in big_pruned), tuple(int(x) for x in small_kept)
        msg = (f"{where}: the entry at {list(a)} (|w| = {expect.g(mag[a])}) was zeroed but the smaller "
               f"one at {list(b)} (|w| = {expect.g(mag[b])}) was kept; the zeroed entries must be the "
               "smallest in magnitude")
        raise Failed(f"{msg}\n    Hint: {hint}" if hint else msg)


# ---------------------------------------------------------------- channel pruning

@check("q7.channel_prune_compute_fraction.numeric", uses="channel_prune_compute_fraction")
@given(p=st.integers(0, 1000).map(lambda i: i / 1000))
def channel_prune_compute_fraction_numeric(sub, p):
    """The fraction of MACs left, as the contract defines it, over drawn p in [0, 1]."""
    for ratio in (0.3, p):
        expect.close(actual=sub.channel_prune_compute_fraction(ratio),
                     expected=ref.channel_prune_compute_fraction(ratio),
                     what=f"channel_prune_compute_fraction(prune_ratio={ratio:g})",
                     mistakes={NOT_SQUARED: 1 - ratio})


@check("q7.channel_prune_compute_fraction.symbolic", uses="channel_prune_compute_fraction")
def channel_prune_compute_fraction_symbolic(sub):
    """Called with a sympy symbol p, it returns the fraction as an expression in p."""
    import sympy

    got = call_with_symbols(sub, "channel_prune_compute_fraction", "p",
                            shown="channel_prune_compute_fraction(prune_ratio=p) with a sympy symbol p")
    p = sympy.Symbol("p", positive=True)
    expected = ref.channel_prune_compute_fraction(p)
    try:
        expect.symbolic_equal(actual=got, expected=expected, symbols={"p": (0.01, 0.99)},
                              key="q7.channel_prune_compute_fraction",
                              what="channel_prune_compute_fraction(prune_ratio=p) with a sympy symbol p")
    except Failed as e:
        if isinstance(got, expect.Expr) and _agrees(got, 1 - p):
            raise Failed(f"{e.message}\n    Hint: {NOT_SQUARED}") from None
        raise


def _agrees(got, wrong):
    try:
        return symbolic.compare(symbolic.from_wire(got, {"p"}), wrong, {"p": (0.01, 0.99)}, "q7.mistake") is None
    except (symbolic.Rejected, ValueError):
        return False


# ---------------------------------------------------------------- k-means

def _kmeans(sub, W, bits, **kwargs):
    shown = "".join(f", {k}={'Generator(seed)' if isinstance(v, Generator) else v}" for k, v in kwargs.items())
    where = f"kmeans_quantize(W, bits={bits}{shown}) with {_w(W)}"
    out = expect.parts(sub.kmeans_quantize(W, bits, **kwargs), 2,
                       what=f"{where}: the result should be (codebook, labels) and")
    codebook, rtol = expect.as_array(out[0], what=f"{where}: the codebook")
    labels, _ = expect.as_array(out[1], what=f"{where}: the labels")
    codebook = codebook.ravel()
    if not np.all(np.isfinite(codebook)):
        raise Failed(f"{where}: the codebook contains non-finite values: {expect.show(codebook, 7)}")
    if labels.shape != W.shape:
        raise Failed(f"{where}: the labels have shape {labels.shape}, expected W's shape {W.shape} "
                     "(one centroid index per weight)")
    if not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)):
        bad = tuple(int(i) for i in np.argwhere(~(np.isfinite(labels) & (labels == np.round(labels))))[0])
        raise Failed(f"{where}: the labels must be whole numbers (centroid indices); "
                     f"labels{list(bad)} = {expect.g(labels[bad])}")
    if labels.size and (labels.min() < 0 or labels.max() >= codebook.size):
        raise Failed(f"{where}: the labels must index the codebook (0 to {codebook.size - 1}); "
                     f"they range from {int(labels.min())} to {int(labels.max())}")
    return codebook, labels.astype(np.int64), rtol, where


@st.composite
def kmeans_cases(draw, low=2, high=8):
    m, n = draw(st.integers(low, high)), draw(st.integers(low + 1, high + 2))
    return m, n, draw(st.integers(1, 3)), draw(seeds())


def _normal_weights(m, n, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, n)) * rng.uniform(0.05, 2) + rng.uniform(-0.5, 0.5)


@check("q7.kmeans_quantize.at_most_2_bits_centroids", uses="kmeans_quantize")
@given(case=kmeans_cases())
def kmeans_at_most_2_bits_centroids(sub, case):
    """The codebook holds at most 2**bits centroids (default n_iter and generator)."""
    m, n, bits, seed = case
    W = _normal_weights(m, n, seed)
    codebook, _, _, where = _kmeans(sub, W, bits)
    if codebook.size > 2 ** bits:
        raise Failed(f"{where}: the codebook has {codebook.size} centroids, expected at most "
                     f"2**bits = {2 ** bits}")


@check("q7.kmeans_quantize.labels_valid", uses="kmeans_quantize")
@given(case=kmeans_cases())
def kmeans_labels_valid(sub, case):
    """labels has W's shape and holds whole-number indices into the codebook (int or float arrays)."""
    m, n, bits, seed = case
    W = _normal_weights(m, n, seed)
    _kmeans(sub, W, bits, n_iter=5)


@check("q7.kmeans_quantize.lloyd_fixed_point", uses="kmeans_quantize")
@given(case=kmeans_cases(), random_init=st.booleans())
def kmeans_lloyd_fixed_point(sub, case, random_init):
    """With n_iter = 500 Lloyd has converged: each weight's centroid is its nearest one
    (exact ties tolerated) and each used centroid is the mean of its weights."""
    m, n, bits, seed = case
    W = _normal_weights(m, n, seed)
    kwargs = {"n_iter": KMEANS_FIXED_POINT_ITERS}
    if random_init:
        kwargs["generator"] = Generator(seed)
    codebook, labels, rtol, where = _kmeans(sub, W, bits, **kwargs)
    tol = rtol * float(np.max(np.abs(W)))
    dist = np.abs(W[..., None] - codebook)
    own = np.take_along_axis(dist, labels[..., None], axis=-1)[..., 0]
    nearest = dist.min(axis=-1)
    worse = own - nearest > tol
    if worse.any():
        i = tuple(int(x) for x in np.argwhere(worse)[0])
        j = int(np.argmin(dist[i]))
        raise Failed(f"{where}: W{list(i)} = {expect.g(W[i])} is labelled {int(labels[i])} (centroid "
                     f"{expect.g(codebook[labels[i]])}) but centroid {j} = {expect.g(codebook[j])} is nearer; "
                     "after convergence every weight belongs to its nearest centroid (tolerance "
                     f"{expect.g(tol)})")
    for c in np.unique(labels):
        mean = float(W[labels == c].mean())
        if abs(codebook[c] - mean) > tol:
            raise Failed(f"{where}: centroid {int(c)} is {expect.g(codebook[c])} but the mean of the "
                         f"{int(np.sum(labels == c))} weights labelled {int(c)} is {expect.g(mean)}; after "
                         f"convergence every used centroid is the mean of its weights (tolerance {expect.g(tol)})")


# ---------------------------------------------------------------- linear quantization

@st.composite
def quant_ranges(draw):
    """(r_min, r_max, q_min, q_max) with q_min != 0, q_max + q_min != 0, |r_min/S| >= 1 and
    q_min - r_min/S at least 0.05 away from a .5 rounding tie."""
    q_min = draw(st.integers(-128, 20).filter(lambda q: q != 0))
    width = draw(st.integers(3, 255))
    if q_min + (q_min + width) == 0:
        width += 1
    q_max = q_min + width
    S = draw(log_uniform(1e-3, 1.0))
    whole = draw(st.integers(-width, max(width // 4, 2)))
    frac = draw(st.integers(5, 85)) / 100
    frac = frac + 0.1 if frac >= 0.45 else frac  # in [0.05, 0.45) or [0.55, 0.95]
    a = whole + frac if whole not in (-1, 0) else whole - 1 - frac  # r_min / S, |a| > 1
    r_min = a * S
    r_max = r_min + S * width
    return r_min, r_max, q_min, q_max


def _params_call(r_min, r_max, q_min, q_max):
    return f"linear_quant_params(r_min={r_min:.10g}, r_max={r_max:.10g}, q_min={q_min}, q_max={q_max})"


def _student_params(sub, r_min, r_max, q_min, q_max):
    call = _params_call(r_min, r_max, q_min, q_max)
    S, Z = expect.parts(sub.linear_quant_params(r_min, r_max, q_min, q_max), 2,
                        what=f"{call} should return (S, Z) and")
    S, Z = _scalar(S, f"{call}: S"), _scalar(Z, f"{call}: Z")
    return S, (int(Z) if np.isfinite(Z) and Z == round(Z) else Z), call


@check("q7.linear_quant_params.matches_reference", uses="linear_quant_params")
@given(rng_=quant_ranges())
def linear_quant_params_matches_reference(sub, rng_):
    """S and Z as the contract defines them, over drawn non-symmetric ranges with q_min != 0."""
    r_min, r_max, q_min, q_max = rng_
    call = _params_call(*rng_)
    S, Z = expect.parts(sub.linear_quant_params(*rng_), 2, what=f"{call} should return (S, Z) and")
    eS, eZ = ref.linear_quant_params(*rng_)
    sS, sZ = ref.linear_quant_params_scale_sum(*rng_)
    expect.close(actual=S, expected=eS, what="S", where=call, mistakes={SCALE_SUM: sS})
    expect.close(actual=Z, expected=eZ, what="Z", where=call,
                 mistakes={Z_UNROUNDED: ref.linear_quant_params_unrounded_z(*rng_)[1],
                           Z_SIGN: ref.linear_quant_params_wrong_sign_z(*rng_)[1],
                           SCALE_SUM: sZ})


@check("q7.linear_quant_params.z_is_integer", uses="linear_quant_params")
@given(rng_=quant_ranges())
def linear_quant_params_z_is_integer(sub, rng_):
    """Z is a whole number (int, numpy int, 0-d tensor or integral float)."""
    _, Z, call = _student_params(sub, *rng_)
    if not (np.isfinite(Z) and Z == round(Z)):
        raise Failed(f"{call}: Z = {expect.g(Z)} is not a whole number\n    Hint: {Z_UNROUNDED}")


def _values(r_min, r_max, S, seed, size, outside=True):
    """Values in (and, if ``outside``, beyond) [r_min, r_max] with r/S away from .5 ties."""
    rng = np.random.default_rng(seed)
    span = r_max - r_min
    lo, hi = (r_min - 0.4 * span, r_max + 0.4 * span) if outside else (r_min, r_max)
    r = rng.uniform(lo, hi, size)
    x = r / S
    near = np.abs(x - np.floor(x) - 0.5) < 0.02
    r = np.where(near, r + 0.05 * S * np.where(r + 0.05 * S <= hi, 1, -1), r)
    return r


def _quant_args(rng_):
    r_min, r_max, q_min, q_max = rng_
    S, Z = ref.linear_quant_params(*rng_)
    return S, Z, f"S={S:.10g}, Z={Z}, q_min={q_min}, q_max={q_max}"


@check("q7.linear_quantize.matches_reference", uses="linear_quantize")
@given(rng_=quant_ranges(), rows=st.integers(1, 4), cols=st.integers(2, 6), seed=seeds())
def linear_quantize_matches_reference(sub, rng_, rows, cols, seed):
    """q = clamp(round(r / S) + Z, q_min, q_max) as integers, for values inside and outside the range."""
    r_min, r_max, q_min, q_max = rng_
    S, Z, shown = _quant_args(rng_)
    r = _values(r_min, r_max, S, seed, (rows, cols))
    where = f"linear_quantize(r, {shown}) with r = {expect.show(r, 7)}"
    expect.integer(actual=sub.linear_quantize(r, S, Z, q_min, q_max),
                   expected=ref.linear_quantize(r, S, Z, q_min, q_max), what="q", where=where)


@check("q7.linear_quantize.clamps", uses="linear_quantize")
@given(rng_=quant_ranges(), seed=seeds())
def linear_quantize_clamps(sub, rng_, seed):
    """Values below r_min give q_min and values above r_max give q_max."""
    r_min, r_max, q_min, q_max = rng_
    S, Z, shown = _quant_args(rng_)
    rng = np.random.default_rng(seed)
    span = r_max - r_min
    r = np.concatenate([r_min - span * rng.uniform(0.05, 2, 3), r_max + span * rng.uniform(0.05, 2, 3)])
    expected = np.array([q_min] * 3 + [q_max] * 3, dtype=np.float64)
    where = (f"linear_quantize(r, {shown}) with r = {expect.show(r, 7)} "
             f"(outside [r_min, r_max] = [{r_min:.6g}, {r_max:.6g}])")
    got = sub.linear_quantize(r, S, Z, q_min, q_max)
    try:
        expect.integer(actual=got, expected=expected, what="q", where=where)
    except Failed as e:
        raise Failed(f"{e.message}\n    Hint: {NO_CLAMP}") from None


@check("q7.linear_dequantize.matches_reference", uses="linear_dequantize")
@given(rng_=quant_ranges(), rows=st.integers(1, 4), cols=st.integers(2, 6), seed=seeds())
def linear_dequantize_matches_reference(sub, rng_, rows, cols, seed):
    """r = S * (q - Z) for integer q in [q_min, q_max] (sent as a float64 tensor)."""
    _, _, q_min, q_max = rng_
    S, Z, _ = _quant_args(rng_)
    q = np.random.default_rng(seed).integers(q_min, q_max + 1, (rows, cols)).astype(np.float64)
    where = f"linear_dequantize(q, S={S:.10g}, Z={Z}) with q = {expect.show(q, 7)}"
    expect.close(actual=sub.linear_dequantize(q, S, Z), expected=ref.linear_dequantize(q, S, Z),
                 what="r", where=where)


# ---------------------------------------------------------------- ANSWERS

RANGE_SYMBOLS = {"r_min": (-10.0, -1.0), "r_max": (1.0, 10.0), "q_min": (-128.0, -1.0), "q_max": (1.0, 255.0)}


def _number(value, key):
    if isinstance(value, str):
        try:
            return float(value.strip().replace("_", ""))
        except ValueError:
            raise Failed(f'ANSWERS["{key}"] = {value!r} is not a number') from None
    return value


@check("q7.answers.q7a_compute_left", answers="q7a_compute_left")
def answer_q7a_compute_left(sub):
    """The fraction of compute left after removing 30 % of the channels (within 1 %)."""
    expect.close(actual=_number(sub.answer("q7a_compute_left"), "q7a_compute_left"),
                 expected=ref.answers()["q7a_compute_left"], rtol=0.01, what='ANSWERS["q7a_compute_left"]',
                 mistakes={NOT_SQUARED: 0.7, "this is the fraction removed; give the fraction LEFT.": 0.51})


@check("q7.answers.q7a_phone", answers="q7a_phone")
def answer_q7a_phone(sub):
    """Which kind of pruning gives real speedups on a phone (one of the listed choices)."""
    expect.choice(actual=sub.answer("q7a_phone"), expected=ref.answers()["q7a_phone"],
                  options=("channel", "fine_grained"), what='ANSWERS["q7a_phone"]')


@check("q7.answers.q7b_kmeans_values", answers="q7b_kmeans_values")
def answer_q7b_kmeans_values(sub):
    """The number of distinct values 4-bit k-means quantization leaves."""
    expect.integer(actual=_number(sub.answer("q7b_kmeans_values"), "q7b_kmeans_values"),
                   expected=ref.answers()["q7b_kmeans_values"], what='ANSWERS["q7b_kmeans_values"]')


@check("q7.answers.q7b_nbit_values", answers="q7b_nbit_values")
def answer_q7b_nbit_values(sub):
    """The number of distinct values n-bit k-means quantization leaves, as a formula in n."""
    expect.symbolic_equal(actual=sub.answer("q7b_nbit_values"), expected=ref.answers()["q7b_nbit_values"],
                          symbols={"n": (1.0, 16.0)}, key="q7b_nbit_values", what='ANSWERS["q7b_nbit_values"]')


def _with_symbolic_hints(fail, tree, mistakes, key, bindings=None):
    for hint, wrong in mistakes.items():
        try:
            if symbolic.compare(tree, wrong, RANGE_SYMBOLS, key + ".mistake", bindings=bindings) is None:
                return Failed(f"{fail.message}\n    Hint: {hint}")
        except (ValueError, TapeMiss):  # in the student kit, a mistake nobody made while recording: no hint
            continue
    return fail


@check("q7.answers.q7b_scale", answers="q7b_scale")
def answer_q7b_scale(sub):
    """The scale S of linear quantization, as a formula in r_min, r_max, q_min, q_max."""
    text = sub.answer("q7b_scale")
    expected = ref.answers()["q7b_scale"]
    try:
        expect.symbolic_equal(actual=text, expected=expected, symbols=RANGE_SYMBOLS, key="q7b_scale",
                              what='ANSWERS["q7b_scale"]')
    except Failed as e:
        try:
            tree = symbolic.parse(text, RANGE_SYMBOLS)
        except symbolic.Rejected:
            raise e from None
        raise _with_symbolic_hints(e, tree, {SCALE_SUM: ref.symbolic_mistakes()["linear_quant_params_scale_sum"]},
                                   "q7b_scale") from None


@check("q7.answers.q7b_zero_point", answers="q7b_zero_point")
def answer_q7b_zero_point(sub):
    """The zero point Z before rounding, in r_min, r_max, q_min, q_max and S (S may be written out)."""
    text = sub.answer("q7b_zero_point")
    what = 'ANSWERS["q7b_zero_point"]'
    try:
        tree = symbolic.parse(text, [*RANGE_SYMBOLS, "S"])
    except symbolic.Rejected as e:
        raise Failed(f"{what} was not read: {e}. It was not evaluated.") from None
    scale = {"S": ref.answers()["q7b_scale"]}  # S, where written, takes the scale's value at each point
    diff = symbolic.compare(tree, ref.answers()["q7b_zero_point"], RANGE_SYMBOLS, "q7b_zero_point", bindings=scale)
    if diff is not None:
        fail = Failed(f"{what} is not equivalent to the expected expression: {diff}.\n"
                      f"    (compared at 32 seeded points with {symbolic.describe_ranges(RANGE_SYMBOLS)}, "
                      "and S the scale of part (b) at each point)")
        raise _with_symbolic_hints(fail, tree, {Z_SIGN: ref.symbolic_mistakes()["linear_quant_params_wrong_sign_z"]},
                                   "q7b_zero_point", bindings=scale)
