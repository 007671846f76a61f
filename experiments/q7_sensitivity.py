"""Q7a: per-layer sensitivity to fine-grained magnitude pruning.

A small MLP classifier (layers ``fc1``, ``fc2``, ``fc3``) is trained by the
grader (torch, float64, deterministic) on generated data. The submission's
``ns.magnitude_prune`` then prunes ONE layer's weight matrix at a time to each
sparsity, the other layers staying dense, and the test accuracy is measured.
No answers here: the caller reads which layer is the most sensitive.

Data: a Gaussian mixture in ``d_in`` dimensions, ``clusters_per_class``
clusters per class with centres ``~ N(0, centre_scale**2 I)`` and within-cluster
noise ``N(0, cluster_std**2 I)`` (several clusters per class, so the classes
are not linearly separable and the hidden layers matter). Training: Adam
(lr 3e-3), minibatches of 100, 12 epochs, cross-entropy, float64, fixed seeds
(about 1 s CPU, once per process). Nothing is downloaded.
"""
from functools import lru_cache

import torch
from torch import nn

from . import F64, as_f64, controlled

LAYERS = ("fc1", "fc2", "fc3")
SPARSITIES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)

CONFIG = {
    "d_in": 32, "hidden1": 64, "hidden2": 64, "n_classes": 8,
    "clusters_per_class": 3, "centre_scale": 1.0, "cluster_std": 1.0,
    "n_train": 6000, "n_test": 2000,
    "epochs": 12, "batch_size": 100, "lr": 3e-3,
    "seed": 2024,
}


class MLP(nn.Module):
    """``d_in -> hidden1 -> hidden2 -> n_classes`` with ReLU, layers fc1, fc2, fc3."""

    def __init__(self, d_in, hidden1, hidden2, n_classes):
        super().__init__()
        self.fc1 = nn.Linear(d_in, hidden1)
        self.fc2 = nn.Linear(hidden1, hidden2)
        self.fc3 = nn.Linear(hidden2, n_classes)
        # LeCun-normal weights, zero biases. With a ~1 s training budget the weights
        # stay close to their initialisation, so PyTorch's default (uniform) init
        # would leave flat-topped histograms unlike those of trained networks.
        for layer in (self.fc1, self.fc2, self.fc3):
            nn.init.normal_(layer.weight, std=layer.in_features ** -0.5)
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


def _gen(seed):
    return torch.Generator().manual_seed(int(seed))


@lru_cache(maxsize=None)
def _data():
    c = CONFIG
    g = _gen(c["seed"])
    d, k, m = c["d_in"], c["n_classes"], c["clusters_per_class"]
    n = c["n_train"] + c["n_test"]
    centres = c["centre_scale"] * torch.randn(k * m, d, generator=g, dtype=F64)
    which = torch.randint(0, k * m, (n,), generator=g)
    X = centres[which] + c["cluster_std"] * torch.randn(n, d, generator=g, dtype=F64)
    y = which % k                     # cluster j belongs to class j mod k
    n_tr = c["n_train"]
    return X[:n_tr], y[:n_tr], X[n_tr:], y[n_tr:]


def make_data():
    """``(X_train, y_train, X_test, y_test)`` (float64 inputs, int64 labels), fresh copies."""
    return tuple(t.clone() for t in _data())


@lru_cache(maxsize=None)
def _trained_state():
    c = CONFIG
    Xtr, ytr, _, _ = _data()
    with controlled(c["seed"]):
        torch.manual_seed(c["seed"])
        model = MLP(c["d_in"], c["hidden1"], c["hidden2"], c["n_classes"]).to(F64)
        opt = torch.optim.Adam(model.parameters(), lr=c["lr"])
        g = _gen(c["seed"] + 1)
        n, bs = Xtr.shape[0], c["batch_size"]
        for _ in range(c["epochs"]):
            perm = torch.randperm(n, generator=g)
            for i in range(0, n, bs):
                idx = perm[i:i + bs]
                loss = nn.functional.cross_entropy(model(Xtr[idx]), ytr[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def train_model():
    """The trained classifier (a fresh ``MLP`` each call; training runs once per process)."""
    c = CONFIG
    state = _trained_state()
    with torch.random.fork_rng(devices=[]):     # nn.Linear's init must not consume the caller's RNG
        model = MLP(c["d_in"], c["hidden1"], c["hidden2"], c["n_classes"]).to(F64)
    model.load_state_dict(state)
    model.eval()
    return model


def _accuracy(model, X, y):
    with torch.no_grad():
        return float((model(X).argmax(dim=1) == y).to(F64).mean())


def _weight_stats(W):
    w = W.flatten()
    std = float(w.std())
    a = w.abs()
    edges = [std * (i / 2) for i in range(-8, 9)]   # -4 std .. 4 std in half-std bins
    counts = torch.histc(w.clamp(edges[0], edges[-1]), bins=len(edges) - 1,
                         min=edges[0], max=edges[-1])
    z = (w - w.mean()) / std
    return {
        "numel": int(w.numel()),
        "mean": float(w.mean()),
        "std": std,
        "median_abs": float(a.median()),
        "max_abs": float(a.max()),
        "frac_small": float((a < 0.5 * std).to(F64).mean()),
        "frac_within_1std": float((a < std).to(F64).mean()),
        "frac_beyond_2std": float((a > 2 * std).to(F64).mean()),
        "excess_kurtosis": float((z ** 4).mean()) - 3.0,   # 0 Gaussian, -1.2 uniform
        "hist_edges": [float(e) for e in edges],
        "hist_counts": [int(v) for v in counts.tolist()],
    }


def _prune_stats(W, P):
    """What a pruning did to ``W``: how many entries it zeroed, the largest |w| it zeroed,
    the smallest |w| it kept, and how many kept entries it changed by more than a relative
    1e-4 (float32 results are allowed) - all plain data."""
    zeroed = (P == 0) & (W != 0)
    kept = P != 0
    return {
        "zeroed": int(zeroed.sum()),
        "pruned_max_abs": float(W[zeroed].abs().max()) if bool(zeroed.any()) else None,
        "kept_min_abs": float(W[kept].abs().min()) if bool(kept.any()) else None,
        "kept_changed": int((kept & ((P - W).abs() > 1e-4 * W.abs())).sum()),
    }


def sensitivity(ns, sparsities=SPARSITIES):
    """Test accuracy when each layer alone is magnitude-pruned with ``ns.magnitude_prune``.

    Returns ``{"layers", "sparsities", "accuracy": {layer: [acc per sparsity]},
    "dense_accuracy", "weight_stats": {layer: {...}}, "nonzero_fraction":
    {layer: [fraction of weights left non-zero per sparsity]}, "prune_stats":
    {layer: [{"zeroed", "pruned_max_abs", "kept_min_abs", "kept_changed"} per
    sparsity]}, "n_test"}`` (``prune_stats`` compares each pruned matrix with
    the original: entries zeroed, the largest magnitude zeroed and the smallest
    kept (None when there is none), and kept entries whose value changed).
    ``magnitude_prune`` receives a float64 clone of the layer's weight
    (``out x in``, as stored by ``nn.Linear``); biases are never pruned.
    """
    sparsities = [float(s) for s in sparsities]
    with controlled(0):
        model = train_model()
        _, _, Xte, yte = _data()
        dense = _accuracy(model, Xte, yte)
        accuracy, nonzero, stats, pruned = {}, {}, {}, {}
        for name in LAYERS:
            layer = getattr(model, name)
            W = layer.weight.detach().clone()
            stats[name] = _weight_stats(W)
            accs, nz, ps = [], [], []
            for s in sparsities:
                P = as_f64(ns.magnitude_prune(W.clone(), s), "magnitude_prune's result")
                if P.numel() != W.numel():
                    raise ValueError(f"magnitude_prune's result: expected shape {tuple(W.shape)}, "
                                     f"got {tuple(P.shape)}")
                with torch.no_grad():
                    layer.weight.copy_(P.reshape(W.shape))
                accs.append(_accuracy(model, Xte, yte))
                nz.append(float((P != 0).to(F64).mean()))
                ps.append(_prune_stats(W, P.reshape(W.shape)))
                with torch.no_grad():
                    layer.weight.copy_(W)
            accuracy[name] = accs
            nonzero[name] = nz
            pruned[name] = ps
    return {"layers": list(LAYERS), "sparsities": sparsities, "accuracy": accuracy,
            "dense_accuracy": dense, "weight_stats": stats, "nonzero_fraction": nonzero,
            "prune_stats": pruned, "n_test": int(yte.numel())}
