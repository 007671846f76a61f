"""How the grader measures what a submission's experiments produced.

These judge a submission's own sweep or sensitivity result (values only the
submission's run gives), so they ship in the student kit as code. They hold
no answer: the reference's results they are compared with are recorded data.
"""
import math

import numpy as np

LAW_EXPONENTS = {1.0: "linear", 0.5: "sqrt", 0.0: "constant", -1.0: "inverse"}


def _lowest_finite(lrs, losses):
    best, best_loss = None, math.inf
    for lr, loss in zip(lrs, losses):
        loss = float(loss)
        if math.isfinite(loss) and loss < best_loss:
            best, best_loss = float(lr), loss
    return best


def _loglog_line(xs, ys):
    lx = np.log(np.asarray(xs, dtype=np.float64))
    ly = np.log(np.asarray(ys, dtype=np.float64))
    design = np.stack([lx, np.ones_like(lx)], axis=1)
    (slope, intercept), *_ = np.linalg.lstsq(design, ly, rcond=None)
    return float(slope), float(np.exp(intercept))


def nearest_law(exponent):
    if exponent is None or not math.isfinite(float(exponent)):
        return None
    return LAW_EXPONENTS[min(LAW_EXPONENTS, key=lambda e: (abs(float(exponent) - e), -e))]


def sweep_analysis(sweep):
    """Per batch size the learning rate of lowest finite final loss, and the log-log line through them.

    The same keys as the reference's analysis: ``batch_sizes``, ``optimal_lr``
    (None where every run diverged), ``fitted_batch_sizes``, ``exponent``,
    ``coefficient``, ``law`` (None when fewer than two batch sizes remain).
    """
    lrs = [float(v) for v in sweep["lrs"]]
    sizes = [int(b) for b in sweep["batch_sizes"]]
    best = [_lowest_finite(lrs, row) for row in sweep["final_loss"]]
    kept = [(b, o) for b, o in zip(sizes, best) if o is not None]
    exponent = coefficient = None
    if len({b for b, _ in kept}) >= 2:
        exponent, coefficient = _loglog_line([b for b, _ in kept], [o for _, o in kept])
    return {"batch_sizes": sizes, "optimal_lr": best, "fitted_batch_sizes": [b for b, _ in kept],
            "exponent": exponent, "coefficient": coefficient, "law": nearest_law(exponent)}


def total_accuracy_drop(result, layer):
    """Sum over the sparsities of ``dense_accuracy - accuracy`` for one layer."""
    dense = float(result["dense_accuracy"])
    return float(sum(dense - float(a) for a in result["accuracy"][layer]))
