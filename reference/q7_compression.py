"""Reference for Q7 (pruning and quantization).

Numpy float64 semantics: array arguments are converted with
``np.asarray(..., dtype=float64)``; numpy arrays are returned (int64 for
quantized values and k-means labels).

``ANSWERS`` (except ``q7a_most_sensitive``, which the grader's experiment
decides and which lives elsewhere) and the sympy symbols ``n``, ``r_min``,
``r_max``, ``q_min``, ``q_max`` are built lazily on first access (module
``__getattr__``), so importing this module does not import sympy.
"""

import functools
import math

import numpy as np

__all__ = [
    "symbolic_mistakes",
    "magnitude_prune",
    "channel_prune_compute_fraction",
    "kmeans_quantize",
    "kmeans_sse",
    "linear_quant_params",
    "linear_quantize",
    "linear_dequantize",
    "answers",
    "ANSWERS",
    "n",
    "r_min",
    "r_max",
    "q_min",
    "q_max",
    # known mistakes
    "linear_quant_params_scale_sum",
    "linear_quant_params_wrong_sign_z",
    "linear_quant_params_unrounded_z",
    "magnitude_prune_largest",
    "KNOWN_MISTAKES",
]


def _f64(a):
    return np.asarray(a, dtype=np.float64)


# ---------------------------------------------------------------------------
# Pruning
# ---------------------------------------------------------------------------

def _n_pruned(size, sparsity):
    k = int(round(float(sparsity) * size))
    return min(max(k, 0), size)


def _prune(W, sparsity, largest):
    W = _f64(W)
    out = W.copy()
    k = _n_pruned(W.size, sparsity)
    if k:
        mag = np.abs(W).ravel()
        order = np.argsort(-mag if largest else mag, kind="stable")
        out.reshape(-1)[order[:k]] = 0.0
    return out


def magnitude_prune(W, sparsity):
    """Zero the ``round(sparsity * W.size)`` entries of smallest magnitude and
    keep the rest unchanged (a new array).  Magnitude ties are broken by
    flat index (stable sort); checks use distinct magnitudes."""
    return _prune(W, sparsity, largest=False)


def channel_prune_compute_fraction(prune_ratio):
    """Fraction of MACs left when ``prune_ratio`` of the input and of the
    output channels are removed: MACs scale with ``c_in * c_out``.
    Symbolic-capable."""
    return (1 - prune_ratio) ** 2


# ---------------------------------------------------------------------------
# K-means quantization
# ---------------------------------------------------------------------------

def _assign(w, centroids):
    """Index of the nearest centroid for each weight (1-D: compare with the
    midpoints of the sorted centroids; a weight exactly on a midpoint goes to
    the lower centroid)."""
    order = np.argsort(centroids, kind="stable")
    cs = centroids[order]
    mids = (cs[1:] + cs[:-1]) / 2.0
    return order[np.searchsorted(mids, w, side="left")]


def kmeans_quantize(W, bits, n_iter=20, generator=None):
    """Deterministic 1-D Lloyd's k-means with ``k = 2**bits`` clusters.

    * Initialisation: ``linspace(W.min(), W.max(), k)`` (the "linear"
      initialisation of Deep Compression); ``generator`` is accepted for API
      compatibility and ignored.
    * One iteration = move every centroid to the mean of its weights, then
      reassign every weight to its nearest centroid; stop when the
      assignments no longer change or after ``n_iter`` iterations.  So the
      returned labels always point to the nearest returned centroid, and
      after convergence each centroid is also the mean of its weights.
    * Empty clusters keep their centroid during the iterations and are
      dropped at the end: the codebook holds only used centroids (at most
      ``2**bits``), sorted ascending, and labels index into it.

    Returns ``(codebook, labels)``: float64 of shape ``(r,)`` and int64 of
    ``W``'s shape.
    """
    W = _f64(W)
    k = 2 ** int(bits)
    if k < 1:
        raise ValueError(f"bits must be >= 0, got {bits!r}")
    w = W.ravel()
    if w.size == 0:
        return np.zeros(0), np.zeros(W.shape, dtype=np.int64)
    centroids = np.linspace(w.min(), w.max(), k)
    labels = _assign(w, centroids)
    for _ in range(int(n_iter)):
        counts = np.bincount(labels, minlength=k)
        sums = np.bincount(labels, weights=w, minlength=k)
        used = counts > 0
        centroids = centroids.copy()
        centroids[used] = sums[used] / counts[used]
        new_labels = _assign(w, centroids)
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
    # drop empty clusters, sort the codebook, relabel
    used_ids = np.unique(labels)
    used_ids = used_ids[np.argsort(centroids[used_ids], kind="stable")]
    codebook = centroids[used_ids].copy()
    remap = np.empty(k, dtype=np.int64)
    remap[used_ids] = np.arange(used_ids.size, dtype=np.int64)
    return codebook, remap[labels].reshape(W.shape)


def kmeans_sse(W, codebook, labels):
    """Sum of squared quantization errors ``sum((W - codebook[labels])**2)``."""
    W = _f64(W)
    codebook = _f64(codebook).ravel()
    labels = np.asarray(labels).astype(np.int64)
    return float(np.sum((W - codebook[labels]) ** 2))


# ---------------------------------------------------------------------------
# Linear quantization  r = S * (q - Z)
# ---------------------------------------------------------------------------

def linear_quant_params(r_min, r_max, q_min, q_max):
    """``S = (r_max - r_min) / (q_max - q_min)``, ``Z = round(q_min - r_min/S)``
    (``Z`` a Python int).  Returns ``(S, Z)``."""
    S = (float(r_max) - float(r_min)) / (float(q_max) - float(q_min))
    Z = int(round(float(q_min) - float(r_min) / S))
    return S, Z


def linear_quantize(r, S, Z, q_min, q_max):
    """``clamp(round(r / S) + Z, q_min, q_max)`` as int64."""
    q = np.round(_f64(r) / float(S)) + float(Z)
    return np.clip(q, float(q_min), float(q_max)).astype(np.int64)


def linear_dequantize(q, S, Z):
    """``S * (q - Z)`` as float64."""
    return float(S) * (_f64(q) - float(Z))


# ---------------------------------------------------------------------------
# ANSWERS (built lazily; sympy is imported only here)
# ---------------------------------------------------------------------------

_SYMBOL_NAMES = ("n", "r_min", "r_max", "q_min", "q_max")


@functools.lru_cache(maxsize=None)
def _symbols():
    import sympy

    return {name: sympy.Symbol(name, positive=True) for name in _SYMBOL_NAMES}


@functools.lru_cache(maxsize=None)
def _nbit_values():
    """Distinct codes of n bits: 2 choices per bit, n bits."""
    import sympy

    bit = sympy.Symbol("i", integer=True, positive=True)
    return sympy.Product(2, (bit, 1, _symbols()["n"])).doit()


@functools.lru_cache(maxsize=None)
def _scale_and_zero_point():
    """Solve ``r_min = S (q_min - Z)``, ``r_max = S (q_max - Z)`` for S, Z."""
    import sympy

    sym = _symbols()
    rmin, rmax, qmin, qmax = sym["r_min"], sym["r_max"], sym["q_min"], sym["q_max"]
    S, Z = sympy.symbols("S Z")  # unknowns, no assumptions
    sols = sympy.solve(
        [sympy.Eq(rmin, S * (qmin - Z)), sympy.Eq(rmax, S * (qmax - Z))],
        [S, Z],
        dict=True,
    )
    if len(sols) != 1:  # pragma: no cover - sanity
        raise RuntimeError(f"expected one solution, got {sols}")
    return sympy.simplify(sols[0][S]), sympy.simplify(sols[0][Z])


_Q7A_CHANNEL_PRUNE_RATIO = "3/10"  # 30 % of the channels, kept exact
_Q7B_KMEANS_BITS = 4


@functools.lru_cache(maxsize=None)
def answers():
    """The accepted ``ANSWERS`` of Q7 owned by this module (cached; use ``ANSWERS`` for a fresh copy;
    ``q7a_most_sensitive`` comes from the grader's experiment)."""
    import sympy

    scale, zero_point = _scale_and_zero_point()
    compute_left = channel_prune_compute_fraction(sympy.Rational(_Q7A_CHANNEL_PRUNE_RATIO))
    return {
        "q7a_compute_left": float(compute_left),
        "q7a_phone": "channel",
        "q7b_kmeans_values": 2 ** _Q7B_KMEANS_BITS,
        "q7b_nbit_values": _nbit_values(),
        "q7b_scale": scale,
        "q7b_zero_point": zero_point,
    }


@functools.lru_cache(maxsize=None)
def symbolic_mistakes():
    """Known wrong answers of (b) as expressions (for hints only), named like the mistake functions."""
    import sympy

    sym = _symbols()
    rmin, rmax, qmin, qmax = sym["r_min"], sym["r_max"], sym["q_min"], sym["q_max"]
    S = sympy.Symbol("S", positive=True)
    return {"linear_quant_params_scale_sum": (rmax - rmin) / (qmax + qmin),
            "linear_quant_params_wrong_sign_z": qmin + rmin / S}


def _fresh_copy(d):
    return {k: dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v
            for k, v in d.items()}


def __getattr__(name):
    if name == "ANSWERS":  # a fresh copy on every access, like the other modules
        return _fresh_copy(answers())
    if name in _SYMBOL_NAMES:
        value = _symbols()[name]
        globals()[name] = value  # immutable: cache as a plain attribute
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {"ANSWERS", *_SYMBOL_NAMES})


# ---------------------------------------------------------------------------
# Known mistakes (the commonest wrong answers, for misconception hints).
# Each takes the same arguments as the function it imitates.
# ---------------------------------------------------------------------------

def linear_quant_params_scale_sum(r_min, r_max, q_min, q_max):
    """Mistake: ``S = (r_max - r_min) / (q_max + q_min)`` (and ``Z`` from that
    ``S``).  Coincides with the right answer when ``q_min == 0``."""
    denom = float(q_max) + float(q_min)
    if denom == 0:
        return math.inf, int(round(float(q_min)))
    S = (float(r_max) - float(r_min)) / denom
    if S == 0:
        return S, int(round(float(q_min)))
    return S, int(round(float(q_min) - float(r_min) / S))


def linear_quant_params_wrong_sign_z(r_min, r_max, q_min, q_max):
    """Mistake: ``Z = round(q_min + r_min / S)``."""
    S, _ = linear_quant_params(r_min, r_max, q_min, q_max)
    return S, int(round(float(q_min) + float(r_min) / S))


def linear_quant_params_unrounded_z(r_min, r_max, q_min, q_max):
    """Mistake: ``Z = q_min - r_min / S`` left unrounded (a float)."""
    S, _ = linear_quant_params(r_min, r_max, q_min, q_max)
    return S, float(q_min) - float(r_min) / S


def magnitude_prune_largest(W, sparsity):
    """Mistake: zero the ``round(sparsity * W.size)`` entries of LARGEST
    magnitude."""
    return _prune(W, sparsity, largest=True)


KNOWN_MISTAKES = {
    "linear_quant_params": (
        (linear_quant_params_scale_sum, "the scale divides by q_max - q_min, not q_max + q_min"),
        (linear_quant_params_wrong_sign_z, "r_min = S (q_min - Z) gives Z = q_min - r_min / S"),
        (linear_quant_params_unrounded_z, "the zero point must be rounded to an integer"),
    ),
    "magnitude_prune": (
        (magnitude_prune_largest, "prune the entries of smallest magnitude, not the largest"),
    ),
}
