"""Feedback plots of the grader-owned experiments (matplotlib, Agg backend).

Every public function takes the ``sub`` proxy and plain data, asks for at
most one PNG through ``sub.feedback_file(name)`` (nothing when no feedback
folder is wanted) and NEVER raises: a plot is feedback, not a verdict. Each
plot is drawn once per grading (remembered in the session's shared memo).

The drawing is done by a painter: a separate Python process (this file run
as a script), sent each plot's plain data as one JSON line, so importing
matplotlib and rendering overlap the rest of the grading on the other core
instead of adding to it. A check module that draws plots exports
``on_session_start`` (= ``start_painter``): the painter is started while
the submission's process loads, so matplotlib is imported and warmed up
before the first plot is asked for; it runs at the lowest priority, on a core the
grading leaves idle. The session waits for the painter when the grading
ends (``Session.finish``), or stops it if no plot was asked for; a plot the
painter could not write is not listed.
"""
from __future__ import annotations

import math

_DONE_KEY = "hw11.plots.written"


def _once(sub, name):
    """True the first time ``name`` is asked for in this grading."""
    try:
        done = sub.session.memo.setdefault(_DONE_KEY, set())
    except Exception:  # noqa: BLE001 - no session: just draw
        return True
    if name in done:
        return False
    done.add(name)
    return True


def _pyplot():
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


_DRAWINGS = {}
_PAINTER_KEY = "hw11.plots.painter"
PAINTER_WAIT_S = 120


class _Painter:
    """The painter process of one grading: jobs go in as JSON lines, ``finish`` waits for them."""

    def __init__(self, session):
        import os
        import subprocess
        import sys
        self.session = session
        self.paths = []
        env = dict(os.environ, MPLBACKEND="Agg")
        self.proc = session.start_helper([sys.executable, os.path.abspath(__file__)], stdin=subprocess.PIPE,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                         text=True, encoding="utf-8")
        session.on_finish(self.finish)

    def paint(self, draw, path, args, kwargs):
        import json
        import os
        try:
            os.unlink(path)  # (only a file the painter writes now is listed)
        except OSError:
            pass
        self.proc.stdin.write(json.dumps({"draw": draw, "path": str(path), "args": list(args),
                                          "kwargs": dict(kwargs)}) + "\n")
        self.proc.stdin.flush()
        self.paths.append(str(path))

    def finish(self):
        import os
        if not self.paths:  # nothing to draw: do not wait for its warm-up
            self.proc.kill()
            self.proc.wait()
            return
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=PAINTER_WAIT_S)
        except Exception:  # noqa: BLE001 - a stuck painter: its plots are not listed
            self.proc.kill()
            self.proc.wait()
        for path in self.paths:
            if not os.path.exists(path) and path in self.session.plots:
                self.session.plots.remove(path)


def start_painter(session):
    """Start this grading's painter now (if feedback files are wanted and it is not running yet)."""
    if getattr(session, "feedback_dir", None) is None:
        return None
    memo = session.memo
    if _PAINTER_KEY not in memo:
        memo[_PAINTER_KEY] = _Painter(session)
    return memo[_PAINTER_KEY]


def _painter(sub):
    return start_painter(sub.session)


def _render(draw, path, args, kwargs):
    plt = _pyplot()
    fig = _DRAWINGS[draw](plt, *args, **kwargs)
    try:
        fig.savefig(path, dpi=90)
    finally:
        plt.close(fig)


def _safe(draw):
    _DRAWINGS[draw.__name__] = draw

    def wrapper(sub, name, *args, **kwargs):
        try:
            if getattr(sub.session, "feedback_dir", None) is None or not _once(sub, name):
                return None
            path = sub.feedback_file(name)
            if path is not None:
                _painter(sub).paint(draw.__name__, path, args, kwargs)
            return path
        except Exception:  # noqa: BLE001 - plotting must never fail a check
            return None
    wrapper.__name__ = draw.__name__
    wrapper.__doc__ = draw.__doc__
    return wrapper


def _log_scale(ax, which, base=10):
    """A log scale on ``ax``'s ``which`` ("x" or "y") axis with tick labels in plain text
    ("2^-7"; "1e-03" in base 10): matplotlib's default labels are mathtext, and laying them out
    was most of a plot's drawing time (about 0.25 s of 0.55 s for a Q4 sweep)."""
    from matplotlib import ticker
    getattr(ax, f"set_{which}scale")("log", base=base)
    axis = getattr(ax, f"{which}axis")
    if base == 10:
        axis.set_major_formatter(ticker.LogFormatter(base=10))
        axis.set_minor_formatter(ticker.LogFormatter(base=10, labelOnlyBase=False))
        return

    def power(v, _pos=None):
        e = math.log(v, base) if v > 0 else math.nan
        return f"{base:g}^{round(e)}" if abs(e - round(e)) < 1e-6 else ""
    axis.set_major_formatter(ticker.FuncFormatter(power))
    axis.set_minor_formatter(ticker.NullFormatter())


def _finite(xs, ys):
    pts = [(x, y) for x, y in zip(xs, ys) if y is not None and math.isfinite(y) and y > 0]
    return [p[0] for p in pts], [p[1] for p in pts]


@_safe
def q4_sweep(plt, title, student, reference, own, ref_an):
    """Loss vs learning rate per batch size (student solid, reference dashed) and the
    optimal learning rate vs batch size (log-log) with the fitted power laws."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    cmap = plt.get_cmap("viridis")
    bss = student["batch_sizes"]
    lrs = student["lrs"]
    init = reference.get("initial_loss") or 1.0
    for i, b in enumerate(bss):
        colour = cmap(i / max(1, len(bss) - 1))
        x, y = _finite(lrs, student["final_loss"][i])
        ax1.plot(x, y, "-o", ms=3, color=colour, label=f"B={b} (yours)")
        x, y = _finite(reference["lrs"], reference["final_loss"][i])
        ax1.plot(x, y, "--", color=colour, alpha=0.6)
        div = [lr for lr, d in zip(lrs, student["diverged"][i]) if d]
        if div:
            ax1.plot(div, [init * 1e3] * len(div), "x", color=colour)
    _log_scale(ax1, "x", 2)
    _log_scale(ax1, "y")
    ax1.set_xlabel("learning rate")
    ax1.set_ylabel(f"final loss after {student.get('steps')} steps")
    ax1.set_title("loss vs learning rate (solid: yours, dashed: reference; x: diverged)", fontsize=9)
    ax1.legend(fontsize=7, ncol=2)
    for an, style, who in ((own, "o-", "yours"), (ref_an, "s--", "reference")):
        x, y = _finite(an["batch_sizes"], an["optimal_lr"])
        if not x:
            continue
        label = who
        if an.get("exponent") is not None:
            label += f": exponent {an['exponent']:.3f}"
        line, = ax2.plot(x, y, style[0], label=label, alpha=0.8 if who == "yours" else 0.6)
        if an.get("exponent") is not None and an.get("coefficient") is not None:
            xs = [min(x), max(x)]
            ax2.plot(xs, [an["coefficient"] * v ** an["exponent"] for v in xs], style[1:],
                     color=line.get_color(), alpha=0.7)
    _log_scale(ax2, "x", 2)
    _log_scale(ax2, "y", 2)
    ax2.set_xlabel("batch size B")
    ax2.set_ylabel("optimal learning rate")
    ax2.set_title("optimal learning rate vs batch size (log-log, fitted power laws)", fontsize=9)
    ax2.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


@_safe
def q7_sensitivity(plt, student, reference, drops_student, drops_reference):
    """Accuracy vs sparsity per layer (student solid, reference dashed) and the weight histograms."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    colours = {}
    for name in student["layers"]:
        line, = ax1.plot(student["sparsities"], student["accuracy"][name], "-o", ms=3,
                         label=f"{name} (yours): total drop {drops_student[name]:.3f}")
        colours[name] = line.get_color()
        if reference is not None and name in reference.get("accuracy", {}):
            ax1.plot(reference["sparsities"], reference["accuracy"][name], "--", color=colours[name],
                     alpha=0.6, label=f"{name} (reference): {drops_reference[name]:.3f}")
    ax1.axhline(student["dense_accuracy"], color="grey", lw=0.8, ls=":")
    ax1.set_xlabel("sparsity of that layer alone")
    ax1.set_ylabel("test accuracy")
    ax1.set_title("pruning one layer at a time with your magnitude_prune", fontsize=9)
    ax1.legend(fontsize=7)
    for name in student["layers"]:
        st = student["weight_stats"][name]
        edges, counts = st["hist_edges"], st["hist_counts"]
        centres = [(a + b) / 2 / st["std"] for a, b in zip(edges, edges[1:])]
        total = max(1, sum(counts))
        ax2.plot(centres, [c / total for c in counts], "-o", ms=3, color=colours.get(name),
                 label=f"{name}: mean {st['mean']:.3f}, std {st['std']:.3f}, "
                       f"kurtosis {st['excess_kurtosis']:.2f}")
    ax2.set_xlabel("weight / std of the layer")
    ax2.set_ylabel("fraction of weights")
    ax2.set_title("weight histograms of the trained model", fontsize=9)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    return fig


@_safe
def q1_experiments(plt, runs, sweep, tails):
    """Loss curves of the both-zero / both-random inits and the rank sweep beside Eckart-Young."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    for label, run in runs.items():
        if run is None:
            continue
        ys = [v for v in run.get("loss_curve", []) if v is not None and math.isfinite(v)]
        if ys:
            ax1.plot(ys, label=label)
        if run.get("loss_at_W0") is not None:
            ax1.axhline(run["loss_at_W0"], color="grey", ls=":", lw=0.8)
    _log_scale(ax1, "y")
    ax1.set_xlabel("training progress (every ~30 steps)")
    ax1.set_ylabel("loss")
    ax1.set_title("training from both-zero and both-random factors (dotted: loss at W0)", fontsize=9)
    ax1.legend(fontsize=8)
    if sweep is not None:
        ks = sweep["ranks"]
        floor = 1e-12
        ax2.plot(ks, [max(v, floor) if math.isfinite(v) else float("nan") for v in sweep["best_loss"]],
                 "o-", label="best loss (your lora_init + lora_grads)")
        ax2.plot(ks, [max(v, floor) for v in tails], "s--", label="Eckart-Young tail")
        _log_scale(ax2, "y")
        ax2.set_xlabel("LoRA rank k")
        ax2.set_ylabel("loss")
        ax2.set_title(f"rank sweep on a rank-{sweep.get('target_rank')} target", fontsize=9)
        ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def write_text(sub, name, text):
    """A small text file of feedback numbers (rewritten on each call; never raises)."""
    try:
        path = sub.feedback_file(name)
        if path is not None:
            path.write_text(text)
        return path
    except Exception:  # noqa: BLE001
        return None


def _serve(lines):
    """The painter's loop: one JSON job per line; a job that fails leaves no file."""
    import json
    import os
    for line in lines:
        try:
            job = json.loads(line)
            tmp = job["path"] + ".part.png"
            _render(job["draw"], tmp, job["args"], job["kwargs"])
            os.replace(tmp, job["path"])
        except Exception:  # noqa: BLE001 - feedback only
            continue


def _warm_up():
    """Import matplotlib and draw a figure with text once (font cache, Agg) before any job arrives."""
    try:
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot([1, 2], [1, 2], "-o")
        _log_scale(ax, "x")
        ax.set_title("warm-up")
        ax.legend(["x"])
        fig.tight_layout()
        fig.canvas.draw()
        plt.close(fig)
    except Exception:  # noqa: BLE001 - feedback only: the jobs will say
        pass


if __name__ == "__main__":
    import os
    import sys
    try:  # the lowest priority: it draws on a core the grading leaves idle, never on the grading's time
        os.nice(19)
    except OSError:
        pass
    _warm_up()
    _serve(sys.stdin)
