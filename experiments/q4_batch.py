"""Q4: how the best learning rate depends on the batch size.

The grader owns everything here - data, initialisation, batch order, number
of steps, the MLP and its gradients (forward and back-propagation written out
in numpy below) - and plugs in only the submission's update rules
(``linreg_grad``, ``sgd_update``, ``adam_update``, reached through ``lab``), so
every submission runs the very same experiment. No answers are held here: the
sweep returns final losses only; the analysis (best learning rate per batch
size, power-law fit) is done by the caller.

Budget: a fixed number of optimisation STEPS (``STEPS`` = 100) for every batch
size; the loss is measured after the last step on the full data set. With a
fixed step budget the best learning rate is the one that makes the most
progress per step, which is what the linear scaling rule is about: for a
quadratic whose gradient noise comes from sampling the batch, the expected
one-step decrease ``eta*|g|^2 - eta^2/2*(g'Hg + tr(H Sigma)/B)`` is maximised
by ``eta_opt(B) = eta_max / (1 + B_noise / B)`` (McCandlish et al. 2018,
"An empirical model of large-batch training"): linear in ``B`` while
``B << B_noise``, saturating beyond. The linear-regression task is in the
interpolation regime (noiseless labels, Ma, Bassily & Belkin 2018): inputs
``x ~ N(0, I_d)`` with ``d = 256`` give
``E|w_{t+1} - w*|^2 = (1 - 2 eta + eta^2 (1 + (d+1)/B)) |w_t - w*|^2``, so the
best per-step (and hence fixed-step) learning rate is ``B / (B + d + 1)`` and
``B_noise ~ d`` lies above the largest batch. Label noise would add a loss
floor that the large batches reach within the budget, after which the best
learning rate stops depending on ``B`` (measured: flat from B = 32 with noise
std 0.05) - that measures the floor, not the scaling rule. A fixed budget of
EXAMPLES instead would give the small batches up to 32x more steps (and cost
~20x more); for the quadratic the best per-step rate is the same.

The MLP task (teacher-student regression, tanh, ``MLP`` below) is run on
``MLP["replicas"]`` = 4 independent replicas (own data, teacher, init and batch
order) at once, and the final loss is the mean over replicas: single runs
give learning-rate curves with flat bottoms whose argmin jumps by a grid step
or two from seed to seed. The update rules see the replicas as a leading
dimension of every parameter tensor (``W1: 4 x 32 x 32`` ...): element-wise
updates such as SGD and Adam are unaffected. See docs/experiments.md.

Divergence: a run whose loss becomes NaN/inf or exceeds ``DIVERGE_FACTOR``
times its initial loss is stopped and recorded as diverged with final loss
``float('inf')`` (never NaN), so a diverged run can never look like a minimum.
For linear regression the loss of the batch just used is checked after each
update; for the MLP the batch loss of every replica is checked before each
step; the final full-data loss is checked too.

How the submission is called (see ``experiments/__init__.py``): all the runs
of a sweep (every batch size x learning rate) advance in lockstep, and one
training step of all of them is one ``lab.map`` per submission function and
half of the learning rates: ``linreg_grad`` then the update rule for linear
regression, only the update rule for the MLP (whose gradients are the
grader's). Each map is started (``lab.map_start``) as soon as its arguments
are ready, so the submission works on one half while the grader works on the
other's: for the MLP the calls, and their order, are those of one map per
step (half one, half two, next step); for linear regression a step is the
gradients of half one then half two, then the updates of half one then half
two (every call has the arguments of one map per step). ``linreg_grad`` is
called once per run (with that run's ``w``; the batch of one batch size is one
array object shared by the calls of its runs, sent once). The update rules
are called once per LEARNING RATE, with the parameters and gradients of that
learning rate's runs (one per batch size) stacked along a new leading axis
(``G x d``; ``G x R x ...`` for the MLP, whose replicas are a leading axis
already) and the learning rate as a Python float: the contract's rules are
element-wise (``p - lr * g``; Adam), so each run's numbers are exactly those
of a call of its own (checked bit for bit), at a sixth of the calls. Runs that
diverged are no longer passed to ``linreg_grad``; in the stacked update they
keep their slot (parameters reset, gradient zero, result ignored) until every
run of their learning rate has diverged. Adam's state stays in the
submission's process: ``keep=[1]`` returns a handle to it, passed back as the
state argument of that learning rate's next step (``{}`` at the first step);
superseded handles are dropped in the next map, the last ones at the end.
The grader's own work (batch and final losses, the
MLP's forward and backward passes) is vectorised over the runs of a batch
size; each run's numbers depend only on its own arrays (every matrix product
is one BLAS call per run and replica, every other operation element-wise or
per run; a diverged run's slot is reset, and once the runs after it have
diverged too it is no longer computed), so they do not depend on which other
runs diverged. The MLP's intermediate arrays and gradients are written into
buffers reused at every step, and the arrays returned by the update rules are
copied straight into the stacked parameters.
"""
import math
from functools import lru_cache

import numpy as np

from . import F64, as_f64_like, as_f64_list, pair, rng

STEPS = 100
DIVERGE_FACTOR = 1e6
BATCH_SIZES = (4, 8, 16, 32, 64, 128)

# one log-spaced grid per (task, optimizer): 2**(i/2)
_HALF_OCTAVES = {
    ("linreg", "sgd"): (-14, 1),     # 2**-7   .. 2**0.5   (16 values)
    ("linreg", "adam"): (-20, -5),   # 2**-10  .. 2**-2.5  (16 values)
    ("mlp", "sgd"): (-14, 2),        # 2**-7   .. 2**1     (17 values)
    ("mlp", "adam"): (-22, -5),      # 2**-11  .. 2**-2.5  (18 values)
}

# data sizes
LINREG = {"n": 4096, "d": 256, "noise": 0.0, "seed": 1234}
MLP = {"n": 4096, "d_in": 32, "hidden": 32, "teacher_hidden": 32, "teacher_scale": 1.0,
       "teacher_bias": 0.5, "teacher_out": 2.0, "noise": 0.0, "replicas": 4, "seed": 4321}

DEFAULT_SWEEPS = {
    "a": ("linreg", "sgd"),
    "b": ("mlp", "sgd"),
    "c_linreg": ("linreg", "adam"),
    "c_mlp": ("mlp", "adam"),
}


def default_lrs(task, optimizer):
    """The default log-spaced learning-rate grid of a (task, optimizer) pair."""
    lo, hi = _HALF_OCTAVES[(task, optimizer)]
    return [2.0 ** (i / 2) for i in range(lo, hi + 1)]


def grid_index(values, x):
    """Index of the grid value nearest to ``x`` in log scale (None if x is None)."""
    if x is None:
        return None
    lx = math.log(x)
    return min(range(len(values)), key=lambda i: abs(math.log(values[i]) - lx))


# ------------------------------------------------------------------ data

def _frozen(*arrays):
    for a in arrays:
        a.setflags(write=False)
    return arrays


@lru_cache(maxsize=None)
def _linreg_data(seed):
    c = LINREG
    g = rng(seed)
    n, d = c["n"], c["d"]
    X = g.standard_normal((n, d))
    w_star = g.standard_normal(d) / math.sqrt(d)
    y = X @ w_star + c["noise"] * g.standard_normal(n)
    return _frozen(X, y)


def make_linreg_data(seed=LINREG["seed"]):
    """Linear-regression data ``(X, y)``: ``X`` n x d standard normal, ``y = X w* + noise``.

    ``w* ~ N(0, I/d)`` so the initial loss at ``w = 0`` is about 1/2.
    Returns fresh copies (float64 numpy arrays).
    """
    X, y = _linreg_data(int(seed))
    return X.copy(), y.copy()


def _t(a):
    """The last two axes swapped (a batch of transposed matrices)."""
    return np.swapaxes(a, -1, -2)


# Largest product (multiply-adds) handed to BLAS in one call. OpenBLAS runs bigger
# products on several threads, which is several times SLOWER when the machine's other
# cores are busy (measured: a 4096 x 32 x 32 product 6 ms instead of 1.6 ms with one core
# loaded); below this it uses one thread. ``_mm`` splits the rows of larger products.
_BLAS_MAX = 1 << 17


def _mm(A, B, out=None):
    """``A @ B`` (stacked, broadcasting like ``np.matmul``) in row blocks small enough for one thread.

    ``out``: a C-contiguous array of the result's shape to write into (no allocation).
    Each 2-D product is handed to BLAS exactly as without ``out`` (same blocks, same
    operands), so the result does not depend on it.
    """
    m, k = A.shape[-2:]
    n = B.shape[-1]
    rows = max(1, _BLAS_MAX // max(1, k * n))
    if m <= rows:
        return np.matmul(A, B, out=out)
    block = 1 << (rows.bit_length() - 1)            # a power of two <= rows
    shape = np.broadcast_shapes(A.shape[:-2], B.shape[:-2]) + (m, n)
    if out is None:
        out = np.empty(shape, dtype=np.result_type(A, B))
    if m % block == 0:
        if not out.flags.c_contiguous:
            raise ValueError("_mm: out must be C-contiguous")
        blocks = out.reshape(shape[:-2] + (m // block, block, n))   # a view of out
        np.matmul(A.reshape(A.shape[:-2] + (m // block, block, k)), B[..., None, :, :], out=blocks)
        return out
    for i in range(0, m, rows):
        out[..., i:i + rows, :] = A[..., i:i + rows, :] @ B
    return out


def _mlp_forward(params, X, work=None):
    """Replicated one-hidden-layer tanh MLP: ``(hidden, out)``.

    ``W1: ... x R x h x d``, ``b1: ... x R x h``, ``W2: ... x R x o x h``,
    ``b2: ... x R x o``, ``X: R x n x d`` -> hidden ``... x R x n x h`` and
    output ``... x R x n x o`` (replica ``r`` uses its own weights and data; the
    leading ``...`` stacks runs, which share ``X``). ``work``: a ``_Work`` of
    these shapes whose buffers receive the results (none allocated).
    """
    W1, b1, W2, b2 = params
    hidden = _mm(X, _t(W1), out=None if work is None else work.hidden)
    hidden += b1[..., None, :]
    np.tanh(hidden, out=hidden)
    out = _mm(hidden, _t(W2), out=None if work is None else work.out)
    out += b2[..., None, :]
    return hidden, out


class _Work:
    """Buffers for one shape of the MLP's forward and backward pass, reused at every step.

    ``lead + (R, n, ...)``: ``lead`` stacks runs, ``n`` is the number of examples.
    Writing into them instead of fresh arrays saves an allocation (and the first
    touch of its pages) per operation and step; the arithmetic is the same,
    operation for operation. ``head(e)``: the same buffers for the first ``e``
    runs only (views: still C-contiguous). ``grads``: True (the gradients'
    buffers too), False (the forward pass only) or the four gradient buffers
    to write into (``[g_W1, g_b1, g_W2, g_b2]``).
    """

    def __init__(self, lead, R, n, d, h, o, grads=True):
        shapes = {"hidden": (n, h), "out": (n, o), "r": (n, o), "sq": (n, o)}
        if grads:
            shapes.update(d_out=(n, o), d_pre=(n, h), slope=(n, h))
            if grads is True:
                shapes.update(g_W1=(h, d), g_b1=(h,), g_W2=(o, h), g_b2=(o,))
        self.buffers = {name: np.empty(tuple(lead) + (R,) + shape, dtype=F64)
                        for name, shape in shapes.items()}
        if grads is not True and grads:   # the gradients' buffers given: C-contiguous, of these shapes
            for name, g, shape in zip(("g_W1", "g_b1", "g_W2", "g_b2"), grads, ((h, d), (h,), (o, h), (o,))):
                if g.shape != tuple(lead) + (R,) + shape or not g.flags.c_contiguous:
                    raise ValueError(f"_Work: a {name} buffer of shape {g.shape}")
                self.buffers[name] = g
        self.__dict__.update(self.buffers)
        self._heads = {}

    def head(self, e):
        if e not in self._heads:
            part = _Work.__new__(_Work)
            part.buffers = {name: b[:e] for name, b in self.buffers.items()}
            part.__dict__.update(part.buffers)
            part._heads = {}
            self._heads[e] = part
        return self._heads[e]


def _mlp_losses(params, X, y, work=None):
    """Per-replica loss ``mean((pred - y)**2) / 2`` (shape ``... x R``)."""
    _, out = _mlp_forward(params, X, work)
    r = np.subtract(out, y, out=None if work is None else work.r)
    return 0.5 * np.mean(np.multiply(r, r, out=None if work is None else work.sq), axis=(-2, -1))


def _mlp_losses_and_grads(params, X, y, work=None):
    """Per-replica losses and the gradients of their sum (back-propagation by hand).

    The gradient with respect to replica ``r``'s parameters is that of replica
    ``r``'s own loss ``mean((pred - y)**2) / 2`` over its ``n x o`` outputs:
    with ``r = pred - y``, ``dL/dpred = r / (n o)``; through ``pred = h W2^T + b2``
    and ``h = tanh(X W1^T + b1)`` (``tanh' = 1 - h**2``). With ``work`` the
    gradients are ``work``'s buffers (overwritten by the next call).
    """
    W1, b1, W2, b2 = params
    buf = (lambda name: None) if work is None else (lambda name: getattr(work, name))  # noqa: E731
    hidden, out = _mlp_forward(params, X, work)
    r = np.subtract(out, y, out=buf("r"))           # ... x R x n x o
    losses = 0.5 * np.mean(np.multiply(r, r, out=buf("sq")), axis=(-2, -1))
    d_out = np.divide(r, r.shape[-2] * r.shape[-1], out=buf("d_out"))
    g_W2 = _mm(_t(d_out), hidden, out=buf("g_W2"))  # ... x R x o x h
    g_b2 = np.sum(d_out, axis=-2, out=buf("g_b2"))  # ... x R x o
    if W2.shape[-2] == 1:                           # one output: a product without a sum
        d_pre = np.multiply(d_out, W2, out=buf("d_pre"))
        d_pre += 0.0        # -0 -> +0: BLAS accumulates from +0 (the same bits, NaN and inf too)
    else:
        d_pre = _mm(d_out, W2, out=buf("d_pre"))    # ... x R x n x h: dL/dh ...
    slope = np.multiply(hidden, hidden, out=buf("slope"))
    np.subtract(1.0, slope, out=slope)
    d_pre *= slope                                  # ... then through tanh
    g_W1 = _mm(_t(d_pre), X, out=buf("g_W1"))       # ... x R x h x d
    g_b1 = np.sum(d_pre, axis=-2, out=buf("g_b1"))  # ... x R x h
    return losses, [g_W1, g_b1, g_W2, g_b2]


@lru_cache(maxsize=None)
def _mlp_data(seed):
    c = MLP
    R, n, d, h, th = c["replicas"], c["n"], c["d_in"], c["hidden"], c["teacher_hidden"]
    Xs, ys, inits = [], [], []
    for r in range(R):
        g = rng(seed + 101 * r)
        X = g.standard_normal((n, d))
        teacher = [c["teacher_scale"] * g.standard_normal((1, th, d)) / math.sqrt(d),
                   c["teacher_bias"] * g.standard_normal((1, th)),
                   c["teacher_out"] * g.standard_normal((1, 1, th)) / math.sqrt(th),
                   np.zeros((1, 1), dtype=F64)]
        y = _mlp_forward(teacher, X[None])[1][0]
        y = y + c["noise"] * g.standard_normal((n, 1))
        init = [g.standard_normal((h, d)) / math.sqrt(d),
                np.zeros(h, dtype=F64),
                g.standard_normal((1, h)) / math.sqrt(h),
                np.zeros(1, dtype=F64)]
        Xs.append(X)
        ys.append(y)
        inits.append(init)
    X = np.stack(Xs)
    y = np.stack(ys)
    init = [np.stack([i[k] for i in inits]) for k in range(4)]
    return _frozen(X, y, *init)


def make_mlp_data(seed=None):
    """Teacher-student regression, ``MLP["replicas"]`` independent replicas: ``(X, y, init)``.

    Replica ``r``: ``X[r]`` (n x d_in) standard normal; ``y[r]`` (n x 1) is the
    output of its own random one-hidden-layer tanh teacher (``teacher_hidden``
    units) plus ``noise``; ``init`` = ``[W1, b1, W2, b2]`` stacked over replicas
    (``R x hidden x d_in``, ``R x hidden``, ``R x 1 x hidden``, ``R x 1``): the
    student MLP's fixed initialisation (LeCun-normal weights, zero biases).
    Fresh copies (float64 numpy arrays).
    """
    X, y, *init = _mlp_data(int(MLP["seed"] if seed is None else seed))
    return X.copy(), y.copy(), [p.copy() for p in init]


def _batch_indices(n, batch_size, steps, seed):
    """Fixed batch order: shuffled epochs without replacement, concatenated (steps x batch_size)."""
    g = rng(seed)
    need = batch_size * steps
    perms, have = [], 0
    while have < need:
        perms.append(g.permutation(n))
        have += n
    return np.concatenate(perms)[:need].reshape(steps, batch_size) if need else \
        np.zeros((steps, batch_size), dtype=np.int64)


# ------------------------------------------------------------------ runs

_F64 = np.dtype(F64)

def _linreg_losses(W, X, y):
    """Loss ``mean((X w - y)**2) / 2`` of every row ``w`` of ``W`` (k x d) -> k values."""
    r = _mm(X, W.T)
    r -= y[:, None]
    return 0.5 * np.mean(r * r, axis=0)


def _f64_arrays(values, like, what):
    """A returned list of arrays, checked as ``as_f64_list(values, like, what)``.

    A list of float64 numpy arrays of exactly ``like``'s shapes (what the lab
    returns for float64 tensors: fresh arrays, ours) is returned as it is;
    anything else goes through ``as_f64_list`` (conversion, or the same
    ``BadValue``).
    """
    if type(values) in (list, tuple) and len(values) == len(like):
        for v, t in zip(values, like):
            if type(v) is not np.ndarray or v.dtype != _F64 or v.shape != t.shape:
                break
        else:
            return list(values)
    return as_f64_list(values, like, what)


def _f64_vector(value, d, what):
    """``as_f64_like(value, (d,), what)``, without the copy when it is already a float64 vector."""
    if type(value) is np.ndarray and value.dtype == _F64 and value.shape == (d,):
        return value
    return as_f64_like(value, (d,), what)


class _Updates:
    """The submission's update rule applied to the runs of a sweep, one ``lab.map`` per step.

    ``params``: the sweep's parameters, one array per tensor, ``G x L x
    shape`` (run ``(i, j)``: batch size ``i``, learning rate ``j``), updated in
    place. ``js``: the learning rates (all by default, else a contiguous
    range) this one updates; ``grads``: their gradients, one array per
    tensor, ``G x len(js) x shape`` (column ``j - js[0]``), filled by the
    caller before each step (a dead run's entry is not read). ``start`` sends
    a step (``lab.map_start``) and ``finish`` writes its results, so the
    caller can work while the submission does; ``step`` is both.

    The runs that share a learning rate (one per batch size) are ONE call:
    each parameter tensor is the runs' tensors stacked along a new leading
    axis (``G x shape``: column ``j`` of ``params``), which an element-wise
    update rule (``p - lr * g``, Adam) treats exactly as separate calls would
    - the replicas of the MLP task are such a leading axis already. A run that
    diverged keeps its slot (parameters reset by the sweep, gradient zero)
    until every run of its learning rate has diverged; what the rule returns
    for it is not used.

    Adam: each learning rate's state is a handle to the object the
    submission returned, kept in its process. A handle stops being passed
    once superseded (or once all its runs diverged); it is dropped in the
    NEXT map after that (so never in the map that still receives it as an
    argument, whichever order the lab applies ``drop`` in), and the rest in
    ``close``.
    """

    def __init__(self, lab, optimizer, params, grads, js=None):
        self.lab = lab
        self.optimizer = optimizer
        self.params, self.grads = params, grads
        self.G, self.L = params[0].shape[:2]
        self.js = list(range(self.L)) if js is None else list(js)  # the learning rates this one updates
        self.lo = self.js[0] if self.js else 0
        self.state = {j: {} for j in self.js}
        self.retired = []       # handles no map will receive again, not yet dropped
        self.dropping = []      # handles to drop with the next map
        self.stacks = {}        # j -> (params, grads): the arrays sent for learning rate j

    def step(self, alive, lrs):
        """One round trip: the new parameters of the live runs are written into ``params``.

        ``alive``: ``G x L`` booleans."""
        pending = self.start(alive, lrs)
        if pending is not None:
            self.finish(pending)

    def start(self, alive, lrs):
        """Send the step (``lab.map_start``); ``finish`` writes its results. None: no live run."""
        groups = [j for j in self.js if alive[:, j].any()]
        if not groups:
            return None
        calls, stacks = [], []
        for j in groups:
            params, grads = self._buffers(j)
            dead = ~alive[:, j]
            for p, g, P, D in zip(params, grads, self.params, self.grads):
                np.copyto(p, P[:, j])
                np.copyto(g, D[:, j - self.lo])
                if dead.any():
                    g[dead] = 0.0
            stacks.append(params)
            if self.optimizer == "sgd":
                calls.append(((params, grads, lrs[j]), {}))
            else:
                calls.append(((params, grads, self.state[j], lrs[j]), {}))
        if self.optimizer == "sgd":
            sent = self.lab.map_start("sgd_update", calls)
        else:
            drop, self.dropping, self.retired = self.dropping + self.retired, [], []
            sent = self.lab.map_start("adam_update", calls, keep=[1], drop=drop)
        return sent, groups, stacks, alive[:, groups].copy()

    def finish(self, pending):
        sent, groups, stacks, live = pending
        out = self.lab.map_finish(sent)
        if not isinstance(out, list) or len(out) != len(groups):
            raise RuntimeError("lab.map returned a malformed result list")
        for c, (j, o, params) in enumerate(zip(groups, out, stacks)):
            if self.optimizer == "sgd":
                new_params = o
                what = "sgd_update's result"
            else:
                new_params, handle = pair(o, "adam_update")
                what = "adam_update's new_params"
                if not isinstance(self.state[j], dict):
                    self.dropping.append(self.state[j])
                self.state[j] = handle
            new_params = _f64_arrays(new_params, params, what)
            rows = np.flatnonzero(live[:, c])
            for P, src in zip(self.params, new_params):
                P[rows, j] = src[rows]

    def _buffers(self, j):
        """Learning rate ``j``'s stacked parameters and gradients (``G x shape``), reused every step:
        a map sends its arguments' values before it returns."""
        if j not in self.stacks:
            self.stacks[j] = tuple([np.empty((self.G,) + P.shape[2:], dtype=F64) for P in self.params]
                                   for _ in range(2))
        return self.stacks[j]

    def stop(self, alive, j):
        """A run of learning rate ``j`` diverged (``alive`` updated): once all have, its state is retired."""
        if self.optimizer == "adam" and not alive[:, j].any() and not isinstance(self.state[j], dict):
            self.retired.append(self.state[j])
            self.state[j] = {}

    def close(self):
        if self.optimizer != "adam":
            return
        live = self.dropping + self.retired + [s for s in self.state.values() if not isinstance(s, dict)]
        self.dropping, self.retired, self.state = [], [], {j: {} for j in self.state}
        if live:
            self.lab.drop(live)


def _halves(L):
    """The learning rates ``0..L-1`` in two halves, as ``(lo, hi)`` ranges (the first the larger; no
    empty one): while the submission works on one half's map, the grader works on the other's."""
    cut = (L + 1) // 2
    return [(lo, hi) for lo, hi in ((0, cut), (cut, L)) if lo < hi]


def _sweep_linreg(lab, optimizer, lrs, batch_sizes, steps):
    """Every learning rate at every batch size at once, the learning rates in two halves.

    A step of a half is two round trips: ``linreg_grad`` for its live runs, then the
    update rule for its learning rates. Both halves' maps are in flight together
    (``lab.map_start``), so the grader reads one half's gradients, stacks its update
    and checks its losses while the submission computes the other's. The calls are
    made in this order, step after step: the gradients of half 0 then half 1, the
    updates of half 0 then half 1 - every call has the arguments it would have in
    one map per step (a run's arguments depend only on its own earlier steps).
    """
    X, y = _linreg_data(LINREG["seed"])
    n, d = X.shape
    init_loss = float(_linreg_losses(np.zeros((1, d), dtype=F64), X, y)[0])
    limit = DIVERGE_FACTOR * init_loss
    G, L = len(batch_sizes), len(lrs)
    order = [_batch_indices(n, b, steps, LINREG["seed"] + 7919 * b) for b in batch_sizes]
    W = np.zeros((G, L, d), dtype=F64)              # run (i, j): batch_sizes[i], lrs[j]
    grads = np.zeros((G, L, d), dtype=F64)          # linreg_grad's results, run by run
    alive = np.ones((G, L), dtype=bool)
    # the batches of a step, in two sets of arrays (step t in set t % 2): a half's losses of
    # step t are checked after the next step's batches are drawn (the maps send by value)
    batches = [[(np.empty((b, d), dtype=F64), np.empty(b, dtype=F64)) for b in batch_sizes]
               for _ in range(2)]
    halves = [{"lo": lo, "hi": hi, "pending": None,
               "updates": _Updates(lab, optimizer, [W], [grads[:, lo:hi]], range(lo, hi))}
              for lo, hi in _halves(L)]

    def check_losses(half, step_batches):
        """The half's runs after its update: diverged on the batch just used?"""
        lo, hi, updates = half["lo"], half["hi"], half["updates"]
        with np.errstate(all="ignore"):
            for i, (Xb, yb) in enumerate(step_batches):
                if not alive[i, lo:hi].any():
                    continue
                ok = _linreg_losses(W[i, lo:hi], Xb, yb) <= limit      # NaN, inf or too large: diverged
                for j in lo + np.flatnonzero(alive[i, lo:hi] & ~ok):
                    alive[i, j] = False
                    W[i, j] = 0.0            # keep the shared products finite
                    updates.stop(alive, int(j))

    def finish_update(half, step_batches):
        if half["pending"] is not None:
            pending, half["pending"] = half["pending"], None
            half["updates"].finish(pending)      # writes into W
            check_losses(half, step_batches)

    # (a failure ends the sweep; the lab then drops what is still in flight)
    last = batches[0]        # the batches of the updates still in flight
    for t in range(steps):
        now, before = batches[t % 2], last
        for i, (Xb, yb) in enumerate(now):
            if alive[i].any():
                np.take(X, order[i][t], axis=0, out=Xb, mode="clip")    # = X[order[i][t]]
                np.take(y, order[i][t], axis=0, out=yb, mode="clip")
        sent = []
        for half in halves:
            finish_update(half, before)          # its update of step t - 1, then its losses
            lo, hi = half["lo"], half["hi"]
            runs = [(int(i), lo + int(j)) for i, j in zip(*np.nonzero(alive[:, lo:hi]))]
            if runs:
                calls = [((W[i, j], *now[i]), {}) for i, j in runs]
                sent.append((half, runs, lab.map_start("linreg_grad", calls)))
        if not sent:
            break
        for half, runs, pending in sent:
            out = lab.map_finish(pending)
            if not isinstance(out, list) or len(out) != len(runs):
                raise RuntimeError("lab.map returned a malformed result list")
            for (i, j), o in zip(runs, out):
                grads[i, j] = _f64_vector(o, d, "linreg_grad's result")
            half["pending"] = half["updates"].start(alive, lrs)
        last = now
    for half in halves:
        finish_update(half, last)
    for half in halves:
        half["updates"].close()
    final_loss, diverged = [], []
    with np.errstate(all="ignore"):
        for i in range(G):
            final = _linreg_losses(W[i], X, y)
            div = ~alive[i] | ~(final <= limit)
            final_loss.append([math.inf if v else float(f) for f, v in zip(final, div)])
            diverged.append([bool(v) for v in div])
    return final_loss, diverged, init_loss


def _sweep_mlp(lab, optimizer, lrs, batch_sizes, steps):
    """Every learning rate on every replica at once (the update rules see stacked arrays).

    Final loss: the mean over replicas of each replica's full-data loss.
    Diverged if any replica diverged.
    """
    X, y, *init = _mlp_data(MLP["seed"])
    R, n, d = X.shape
    h, o = init[0].shape[-2], init[2].shape[-2]
    init_losses = _mlp_losses(init, X, y)                       # R
    limits = DIVERGE_FACTOR * init_losses
    G, L = len(batch_sizes), len(lrs)
    # batch t of replica r is X[r, order[i][t, r]]: rows order + r * n of the replicas' rows stacked
    offset = n * np.arange(R)[:, None]
    order = [np.stack([_batch_indices(n, b, steps, MLP["seed"] + 7919 * b + 101 * r)
                       for r in range(R)], axis=1) + offset for b in batch_sizes]  # steps x R x b
    X_rows, y_rows = X.reshape(R * n, d), y.reshape(R * n, o)
    # M[q]: parameter q of every run, G x L x (shape of init[q]); P[i][q] = M[q][i], batch size i's runs
    M = [np.repeat(np.repeat(p[None, None], L, axis=1), G, axis=0) for p in init]
    P = [[m[i] for m in M] for i in range(G)]
    # per batch size, the arrays every step's batch is gathered into
    batches = [(np.empty((R, b, d), dtype=F64), np.empty((R, b, o), dtype=F64)) for b in batch_sizes]
    alive = np.ones((G, L), dtype=bool)
    # The learning rates in two halves, each with its own update calls and buffers: while the
    # submission updates one half, the grader computes the other's gradients (lab.map_start).
    # The calls are those of one map per step, in the same order: half 0, half 1, next step.
    halves = []
    for lo, hi in _halves(L):
        # the forward and backward pass of the half's runs, written into buffers of its own (the
        # gradients too: they are sent by value before the half's next step overwrites them)
        # (the gradients of batch size i's runs are row i of the half's gradient arrays, G x (hi - lo) x
        # shape, which the half's update stacks from, learning rate by learning rate)
        grads = [np.empty((G, hi - lo) + p.shape, dtype=F64) for p in init]
        work = [_Work((hi - lo,), R, b, d, h, o, grads=[g[i] for g in grads]) for i, b in enumerate(batch_sizes)]
        # runs lo + e.. of batch size i diverged (e = extent[i]): no longer computed
        halves.append({"lo": lo, "work": work, "extent": [hi - lo] * G, "pending": None,
                       "updates": _Updates(lab, optimizer, M, grads, range(lo, hi))})

    def losses_and_grads(half):
        """The half's live runs: divergence on this step's batch, then their gradients."""
        lo, work, extent, updates = half["lo"], half["work"], half["extent"], half["updates"]
        with np.errstate(all="ignore"):
            for i, (Xb, yb) in enumerate(batches):
                e = extent[i]
                if e == 0:
                    continue
                losses, _ = _mlp_losses_and_grads([p[lo:lo + e] for p in P[i]], Xb, yb, work[i].head(e))
                ok = np.all(losses <= limits, axis=1)            # NaN, inf or too large: diverged
                for j in lo + np.flatnonzero(alive[i, lo:lo + e] & ~ok):
                    alive[i, j] = False
                    for q in range(4):
                        P[i][q][j] = init[q]     # keep the shared products finite
                    updates.stop(alive, int(j))
                live = np.flatnonzero(alive[i, lo:lo + e])
                extent[i] = int(live[-1]) + 1 if live.size else 0

    # (a failure ends the sweep; the lab then drops what is still in flight)
    for t in range(steps):
        for i, (Xb, yb) in enumerate(batches):
            if any(half["extent"][i] for half in halves):
                idx = order[i][t].reshape(-1)
                np.take(X_rows, idx, axis=0, out=Xb.reshape(-1, d), mode="clip")   # = X[r, order]
                np.take(y_rows, idx, axis=0, out=yb.reshape(-1, o), mode="clip")
        for half in halves:
            if half["pending"] is not None:  # its previous step, updated meanwhile
                pending, half["pending"] = half["pending"], None
                half["updates"].finish(pending)
            losses_and_grads(half)
            half["pending"] = half["updates"].start(alive, lrs)  # into M
        if all(half["pending"] is None for half in halves):
            break
    for half in halves:
        if half["pending"] is not None:
            pending, half["pending"] = half["pending"], None
            half["updates"].finish(pending)
    for half in halves:
        half["updates"].close()
    final_loss, diverged = [], []
    full = _Work((), R, n, d, h, o, grads=False)
    with np.errstate(all="ignore"):
        for i in range(G):
            row_loss, row_div = [], []
            for j in range(L):
                div = not alive[i, j]
                if not div:
                    final = _mlp_losses([m[i, j] for m in M], X, y, full)
                    div = not bool(np.all(final <= limits))
                row_loss.append(math.inf if div else float(final.mean()))
                row_div.append(div)
            final_loss.append(row_loss)
            diverged.append(row_div)
    return final_loss, diverged, float(init_losses.mean())


def run_sweep(lab, task, optimizer, lrs=None, batch_sizes=None, steps=STEPS):
    """Final loss for every (batch size, learning rate) pair.

    ``task`` in {"linreg", "mlp"}; ``optimizer`` in {"sgd", "adam"}.
    Every run starts from the same initialisation and, for a given batch size,
    sees the same batches in the same order; after ``steps`` updates the loss
    (``mean((pred - y)**2) / 2``) is measured on the full data set (for the
    MLP: the mean over its replicas; a learning rate that diverges on any
    replica is marked diverged). One step of all runs is one ``lab.map`` per
    submission function.

    Returns ``{"task", "optimizer", "lrs", "batch_sizes", "final_loss",
    "diverged", "steps", "initial_loss"}`` where ``final_loss[i][j]`` and
    ``diverged[i][j]`` belong to ``batch_sizes[i]`` and ``lrs[j]``
    (diverged runs have final loss ``inf``).
    """
    if task not in ("linreg", "mlp"):
        raise ValueError(f"unknown task {task!r}")
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"unknown optimizer {optimizer!r}")
    lrs = [float(v) for v in (lrs if lrs is not None else default_lrs(task, optimizer))]
    batch_sizes = [int(b) for b in (batch_sizes if batch_sizes is not None else BATCH_SIZES)]
    steps = int(steps)
    sweep = _sweep_linreg if task == "linreg" else _sweep_mlp
    final_loss, diverged, init_loss = sweep(lab, optimizer, lrs, batch_sizes, steps)
    return {"task": task, "optimizer": optimizer, "lrs": lrs, "batch_sizes": batch_sizes,
            "final_loss": final_loss, "diverged": diverged, "steps": steps,
            "initial_loss": float(init_loss)}


def run_all(lab):
    """Every default sweep: ``{name: run_sweep(lab, task, optimizer)}`` for DEFAULT_SWEEPS."""
    return {name: run_sweep(lab, task, opt) for name, (task, opt) in DEFAULT_SWEEPS.items()}


# ------------------------------------------------------------------ unit scenario

def _dtype_name(value):
    dt = getattr(value, "dtype", None)
    if dt is not None:
        return str(dt)
    return getattr(value, "type_name", None) or type(value).__name__


def update_steps(lab, optimizer, params, grads, lr, betas=None, eps=None):
    """Run the submission's update rule for ``len(grads)`` steps and report what it did.

    ``optimizer``: ``"sgd"`` (``sgd_update(params, g, lr)``) or ``"adam"``
    (``adam_update(params, g, state, lr[, betas=..., eps=...])``: ``state`` is
    ``{}`` first, then whatever the submission returned, kept in its process
    and passed back unchanged; ``betas``/``eps`` are passed by keyword only
    when given, so None relies on the defaults). ``params``: list of arrays;
    ``grads``: one list of arrays per step. Each step's new parameters are the
    next step's input, as in the sweeps. One ``lab.call`` per step.

    Returns plain data: ``params`` (per step, the returned parameters as nested
    lists), ``params_modified`` / ``grads_modified`` (per step: did the call
    change the tensors it was handed? ``lab.call(..., watch=True)``: seen in the
    submission's process), ``dtypes`` (per step, the returned parameters' dtypes).
    """
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"unknown optimizer {optimizer!r}")
    current = [np.array(p, dtype=F64) for p in params]
    seq = [[np.array(g, dtype=F64) for g in step] for step in grads]
    kwargs = {}
    if betas is not None:
        kwargs["betas"] = tuple(float(b) for b in betas)
    if eps is not None:
        kwargs["eps"] = float(eps)
    what = "sgd_update's result" if optimizer == "sgd" else "adam_update's new_params"
    out = {"params": [], "params_modified": [], "grads_modified": [], "dtypes": []}
    state, kept = {}, []
    for step in seq:
        # watch=True: the child compares the tensors it handed over before and after the call
        # (only the submission's process can see an in-place change: it gets copies of ours)
        if optimizer == "sgd":
            raw, mutated = lab.call("sgd_update", current, step, float(lr), watch=True)
        else:
            res, mutated = lab.call("adam_update", current, step, state, float(lr), keep=[1],
                                    watch=True, **kwargs)
            raw, state = pair(res, "adam_update")
            kept.append(state)
        new = as_f64_list(raw, current, what)
        out["dtypes"].append([_dtype_name(v) for v in raw] if isinstance(raw, (list, tuple))
                             else [_dtype_name(raw)])
        out["params_modified"].append(bool(mutated[0]) if len(mutated) > 0 else False)
        out["grads_modified"].append(bool(mutated[1]) if len(mutated) > 1 else False)
        out["params"].append([t.tolist() for t in new])
        current = new
    if kept:
        lab.drop(kept)
    return out
