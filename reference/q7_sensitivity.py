"""Q7a reference: reading a per-layer pruning-sensitivity experiment, and its answer.

Plain Python/numpy (no torch). The experiment is the grader's
(``experiments/q7_sensitivity.py``): each layer of a trained classifier is
magnitude-pruned alone at sparsities 0 .. 0.95 and the test accuracy measured.
The reference's own run is read from the reference cache.

**Most sensitive layer** (``ANSWERS["q7a_most_sensitive"]``): the layer with the
largest *total accuracy drop*, ``sum over the sparsities of (dense accuracy -
accuracy)``, i.e. the area between the dense accuracy and the layer's curve.
This criterion uses the whole curve; single-sparsity criteria can disagree
(in the grader's model fc1 is barely lower than fc3 at 70-80 % sparsity,
while fc3 is far lower at 90-95 % and by the total drop).
"""
from __future__ import annotations

from functools import lru_cache

__all__ = ["total_drop", "most_sensitive", "reference_sensitivity", "answers", "ANSWERS",
           "CRITERION"]

CRITERION = ("the largest total accuracy drop (dense accuracy minus accuracy, summed over "
             "the sparsities 0, 0.1, ..., 0.9, 0.95)")


def total_drop(result, layer):
    """Sum over the sparsities of ``dense_accuracy - accuracy`` for one layer."""
    dense = float(result["dense_accuracy"])
    return float(sum(dense - float(a) for a in result["accuracy"][layer]))


def most_sensitive(result):
    """The layer with the largest total drop (ties: the first in layer order)."""
    layers = list(result["layers"])
    drops = [total_drop(result, name) for name in layers]
    return layers[max(range(len(layers)), key=lambda i: (drops[i], -i))]


def reference_sensitivity():
    """The reference's sensitivity result (``magnitude_prune`` of the reference), from the cache."""
    from . import cache
    return cache.load("q7_sensitivity")


@lru_cache(maxsize=None)
def answers():
    """``{"q7a_most_sensitive": layer}`` as the reference measures it (criterion: CRITERION)."""
    return {"q7a_most_sensitive": most_sensitive(reference_sensitivity())}


def __getattr__(name):
    if name == "ANSWERS":
        return dict(answers())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
