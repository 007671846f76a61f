"""Build the reference cache (run in a SUBPROCESS: the content it runs imports torch).

    python -m hw11grader.staff.build_cache --out DIR --key KEY [NAME ...]

Runs ``reference.empirical.compute(name, lab)`` (the grader's own experiments
with the reference's torch functions, ``REFERENCE``, behind a Lab) and writes
``DIR/<name>-<KEY>.json`` for each NAME (default: all of ``cache.NAMES``),
each ``{"name", "key", "settings", "data"}``. Files are written atomically
(temporary file + rename). Fixed seeds throughout: two builds are
byte-identical. The grading process calls this through ``reference.cache``;
it never imports this module itself.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

from hw11grader.boundary.lab import local_lab

CONTENT = "reference.empirical"  # REFERENCE, SETTINGS, compute(name, lab)
NAMES_FROM = "reference.cache"  # NAMES: the results the cache holds


def _content():
    return importlib.import_module(CONTENT)

# ---------------------------------------------------------------- building

def reference_lab():
    """The reference functions behind a Lab: the same wire round trips as a submission's."""
    return local_lab(vars(_content().REFERENCE), seed=0)


def compute(name):
    return _content().compute(name, reference_lab())


def write(directory: Path, name: str, cache_key: str, data) -> Path:
    doc = {"name": name, "key": cache_key, "settings": _content().SETTINGS, "data": data}
    text = json.dumps(doc, sort_keys=True, indent=1) + "\n"
    target = directory / f"{name}-{cache_key}.json"
    tmp = directory / f".{name}-{cache_key}.{os.getpid()}.tmp"
    tmp.write_text(text)
    os.replace(tmp, target)
    return target


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m hw11grader.staff.build_cache")
    p.add_argument("--out", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("names", nargs="*")
    args = p.parse_args(argv)
    known = importlib.import_module(NAMES_FROM).NAMES
    names = args.names or list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        p.error(f"unknown result(s): {', '.join(unknown)}")
    directory = Path(args.out)
    directory.mkdir(parents=True, exist_ok=True)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
    for name in names:
        write(directory, name, args.key, compute(name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
