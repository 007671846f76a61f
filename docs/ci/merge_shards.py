#!/usr/bin/env python3
"""Merge the outputs of `grader.py batch --shard I/N` into one gradebook.

    python docs/ci/merge_shards.py --out gradebook.csv grades-1.csv grades-2.csv ...
    python docs/ci/merge_shards.py --out grades.jsonl --csv gradebook.csv grades-1.jsonl ...

CSV: one header (shard 1 writes it; every header present must be the same),
rows sorted by id. JSONL: lines sorted by id. A student id found twice (two
shards graded the same student) or a missing shard file is an error
(exit 1), so that a half-merged gradebook is never published. With JSONL
shards, ``--csv`` also writes the gradebook in batch's CSV layout (id,
total, one column per question, status). Standard library only.
"""
import argparse
import csv
import io
import json
import sys
from pathlib import Path


def merge_csv(paths):
    header, rows = None, []
    for path in paths:
        lines = list(csv.reader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
        if lines and lines[0] and lines[0][0] == "id":
            if header is not None and lines[0] != header:
                raise ValueError(f"{path}: its header differs from the others")
            header, lines = lines[0], lines[1:]
        rows += [r for r in lines if r]
    if header is None:
        raise ValueError("no shard has a header (is the output of shard 1 missing?)")
    check_unique([r[0] for r in rows])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(sorted(rows, key=lambda r: r[0]))
    return buf.getvalue()


def merge_jsonl(paths):
    records = []
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                records.append((json.loads(line)["id"], line))
    check_unique([i for i, _ in records])
    return "".join(line + "\n" for _, line in sorted(records, key=lambda r: r[0]))


def gradebook_csv(jsonl_text):
    """batch's CSV layout from merged JSONL records (question columns in report order)."""
    records = [json.loads(line) for line in jsonl_text.splitlines() if line.strip()]
    questions = []
    for r in records:
        for q in r.get("questions") or {}:
            if q not in questions:
                questions.append(q)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "total", *questions, "status"])
    for r in records:
        qs = r.get("questions") or {}
        w.writerow([r["id"], fmt(r.get("score")), *(fmt((qs.get(q) or {}).get("score")) for q in questions),
                    r["status"]])
    return buf.getvalue()


def fmt(x):
    return f"{round(float(x or 0.0), 6):g}"


def check_unique(ids):
    seen, twice = set(), set()
    for i in ids:
        (twice if i in seen else seen).add(i)
    if twice:
        raise ValueError(f"graded more than once: {', '.join(sorted(twice))}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="gradebook.csv or grades.jsonl")
    p.add_argument("--csv", help="with .jsonl shards: also write the gradebook CSV here")
    p.add_argument("shards", nargs="+", help="the shards' outputs (all .csv or all .jsonl)")
    a = p.parse_args(argv)
    kinds = {Path(s).suffix for s in a.shards} | {Path(a.out).suffix}
    if kinds not in ({".csv"}, {".jsonl"}):
        print("merge_shards: the shards and --out must all be .csv or all .jsonl", file=sys.stderr)
        return 2
    try:
        text = merge_csv(a.shards) if kinds == {".csv"} else merge_jsonl(a.shards)
    except (OSError, ValueError, KeyError) as e:
        print(f"merge_shards: {e}", file=sys.stderr)
        return 1
    Path(a.out).write_text(text, encoding="utf-8")
    if a.csv:
        if kinds != {".jsonl"}:
            print("merge_shards: --csv needs .jsonl shards", file=sys.stderr)
            return 2
        Path(a.csv).write_text(gradebook_csv(text), encoding="utf-8")
    print(f"merge_shards: {len(a.shards)} shard(s) -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
