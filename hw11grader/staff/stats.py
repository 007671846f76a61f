"""``grader.py stats GRADES.jsonl [--out DIR]``: how a class did, check by check.

Reads the JSONL of ``grader.py batch`` and reports the score distribution
(a text histogram, and a PNG one drawn with matplotlib's Agg backend), the
pass rate of every check, and each check's most common failure messages
(numbers replaced by ``#`` before counting, so that the same mistake on
different inputs counts once). Written to DIR (default: GRADES_stats/ next
to the file) as stats.md, check_pass_rates.csv and score_histogram.png; the
text is also printed. Messages (student text) and anything else read from the
file are escaped for markdown and the terminal (``text.md_inline``).
"""
from __future__ import annotations

import argparse
import collections
import csv
import io
import json
import re
import statistics
import sys
from pathlib import Path

from hw11grader.files import write_atomic
from hw11grader.text import md_inline

NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?!\w)|\b(?:nan|inf)\b")
BINS = 10
TOP_MESSAGES = 3


def normalise(message: str) -> str:
    """A failure message with its numbers replaced by ``#`` (and whitespace collapsed)."""
    return " ".join(NUMBER.sub("#", message).split())


def read_records(path) -> list:
    records = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}, line {lineno}: not JSON ({e.msg})") from None
    return records


def summarise(records) -> dict:
    graded = [r for r in records if r.get("checks")]
    statuses = collections.Counter(r.get("status", "ok") for r in records)
    scores = [float(r.get("score") or 0.0) for r in graded]
    max_score = max((float(r.get("max_score") or 0.0) for r in graded), default=0.0)
    checks = {}  # id -> Counter of statuses (report order kept by insertion)
    messages = {}
    for r in graded:
        for c in r["checks"]:
            checks.setdefault(c["id"], collections.Counter())[c["status"]] += 1
            if c["status"] not in ("passed", "skipped") and c.get("message"):
                messages.setdefault(c["id"], collections.Counter())[normalise(c["message"])] += 1
    return {"records": len(records), "statuses": statuses, "scores": scores, "max_score": max_score,
            "checks": checks, "messages": messages}


def histogram(scores, max_score, bins=BINS):
    """[(low, high, count)] over [0, max_score]; the last bin includes max_score."""
    top = max_score if max_score > 0 else max(scores, default=1.0) or 1.0
    width = top / bins
    counts = [0] * bins
    for s in scores:
        counts[min(bins - 1, max(0, int(s / width)))] += 1
    return [(i * width, (i + 1) * width, counts[i]) for i in range(bins)]


def render(summary, bar_width=40) -> str:
    s = summary
    lines = ["# HW11 class statistics", ""]
    lines.append(f"{s['records']} submissions: "
                 + ", ".join(f"{md_inline(k, 40)} {v}" for k, v in sorted(s["statuses"].items(), key=lambda kv: str(kv[0]))))
    scores = s["scores"]
    if scores:
        lines.append(f"Scores of the {len(scores)} graded submissions (out of {s['max_score']:g}): "
                     f"mean {statistics.fmean(scores):.2f}, median {statistics.median(scores):g}, "
                     f"min {min(scores):g}, max {max(scores):g}")
        lines += ["", "## Score distribution", "", "```"]
        bins = histogram(scores, s["max_score"])
        peak = max(c for _, _, c in bins) or 1
        for i, (lo, hi, count) in enumerate(bins):
            bracket = "]" if i == len(bins) - 1 else ")"
            lines.append(f"[{lo:6.4g}, {hi:6.4g}{bracket} {'#' * round(bar_width * count / peak):<{bar_width}} {count}")
        lines.append("```")
    lines += ["", "## Pass rate per check", "", "| check | passed | rate | other outcomes |", "|---|---:|---:|---|"]
    for cid, counter in s["checks"].items():
        total = sum(counter.values())
        others = ", ".join(f"{md_inline(k, 40)} {v}" for k, v in sorted(counter.items(), key=lambda kv: str(kv[0]))
                           if k != "passed")
        lines.append(f"| {md_inline(cid, 200)} | {counter['passed']}/{total} | {100 * counter['passed'] / total:.0f}% "
                     f"| {others} |")
    lines += ["", "## Most common failure messages (numbers shown as #)", ""]
    for cid, counter in s["messages"].items():
        lines.append(f"### {md_inline(cid, 200)}")
        for message, count in counter.most_common(TOP_MESSAGES):
            shown = message if len(message) <= 300 else message[:300] + " ..."
            lines.append(f"- {count} x {md_inline(shown)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def pass_rates_csv(summary) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["check", "total", "passed", "pass_rate", "failed", "error", "timeout", "missing", "grader_error"])
    for cid, c in summary["checks"].items():
        total = sum(c.values())
        w.writerow([cid, total, c["passed"], f"{c['passed'] / total:.4f}", c["failed"], c["error"], c["timeout"],
                    c["missing"], c["grader_error"]])
    return buf.getvalue()


def plot(summary, path) -> bool:
    """The score histogram as a PNG (False when matplotlib is not installed)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    bins = histogram(summary["scores"], summary["max_score"])
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    ax.bar([lo for lo, _, _ in bins], [c for _, _, c in bins], width=bins[0][1] - bins[0][0], align="edge",
           edgecolor="black", color="#4c72b0")
    ax.set_xlabel(f"score (out of {summary['max_score']:g})")
    ax.set_ylabel("submissions")
    ax.set_title(f"HW11 scores ({len(summary['scores'])} graded submissions)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def main(args) -> int:
    p = argparse.ArgumentParser(prog="python grader.py stats",
                                description="Class statistics from the JSONL written by 'grader.py batch'.")
    p.add_argument("grades", help="GRADES.jsonl from grader.py batch")
    p.add_argument("--out", help="folder for stats.md, check_pass_rates.csv, score_histogram.png "
                                 "(default: GRADES_stats/ next to the file)")
    a = p.parse_args(args)
    grades = Path(a.grades)
    try:
        records = read_records(grades)
    except (OSError, ValueError) as e:
        print(f"grader.py stats: {e}", file=sys.stderr)
        return 2
    out = Path(a.out) if a.out else grades.with_name(grades.stem + "_stats")
    summary = summarise(records)
    text = render(summary)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "stats.md", text)
    write_atomic(out / "check_pass_rates.csv", pass_rates_csv(summary))
    drawn = bool(summary["scores"]) and plot(summary, out / "score_histogram.png")
    sys.stdout.write(text)
    print(f"\nwritten to {out}/" + (" (with score_histogram.png)" if drawn else " (no PNG: nothing graded or no matplotlib)"))
    return 0
