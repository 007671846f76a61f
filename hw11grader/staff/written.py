"""``grader.py written SUBMISSION --out FILE.md``: the WRITTEN answers, for grading by hand.

Every WRITTEN key of the homework, in homework order, then the keys that are
missing. A ``WRITTEN`` dict in the code wins over a ``**WRITTEN key**``
markdown cell. The dict is only known by running the submission, which
happens in the child (``ChildBoundary.start``, whose manifest carries it as
plain data); markdown cells are read by the parent without running anything.

Everything from the submission is student text, shown and never obeyed
(``text.py``): answers are blockquotes whose lines cannot open a heading,
HTML or a link; keys that are not WRITTEN keys of the homework, notes and
the file name are escaped on one line; answers and the list of extra keys
are capped.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hw11grader.files import write_atomic
from hw11grader.text import md_inline, md_quote

ANSWER_CAP = 100_000  # characters of one answer shown
EXTRA_KEYS_SHOWN = 20


def collect(path, content, limits):
    """(answers by key, where each came from, notes) for one submission."""
    from hw11grader.boundary import ChildBoundary
    from hw11grader.loading import LoadError, load
    from hw11grader.score import written_answers

    notes = []
    try:
        submission = load(Path(path))
    except LoadError as e:
        return {}, {}, [f"the submission could not be read: {e}"]
    notes.extend(w for w in submission.warnings if "skip-grading" in w)  # may hide a WRITTEN dict
    boundary = ChildBoundary(submission, limits)
    try:
        manifest = boundary.start()
    finally:
        boundary.close()
    if manifest.status != "ok":
        notes.append(f"the submission could not be loaded ({manifest.message}): only markdown cells were read")
    elif manifest.written.get("present") and "error" in manifest.written:
        notes.append(f"WRITTEN could not be read: {manifest.written['error']}")
    for cell in manifest.cells:
        if cell.get("status") == "error":
            notes.append(f"{cell.get('name')} raised while loading: {str(cell.get('message', ''))[:300]}")
    answers = written_answers(content, submission, manifest)
    from_dict = set()
    if manifest.written.get("present") and isinstance(manifest.written.get("value"), dict):
        from_dict = {k for k, v in manifest.written["value"].items() if isinstance(v, str) and v.strip()}
    sources = {k: ("the WRITTEN dict" if k in from_dict else "a markdown cell") for k in answers}
    return answers, sources, notes


def render(path, content, answers, sources, notes) -> str:
    keys = list(content.written_keys)
    missing = [k for k in keys if k not in answers]
    lines = [f"# Written answers: {md_inline(str(path), limit=1000)}", ""]
    lines.append(f"{len(keys) - len(missing)} of {len(keys)} written answers present.")
    lines.append(f"Missing ({len(missing)}): {', '.join(missing)}" if missing else "Missing: none.")
    for note in notes:
        lines.append(f"- Note: {md_inline(note, limit=2000)}")
    lines.append("")
    for key in keys:
        lines.append(f"## {key}")
        lines.append("")
        if key in answers:
            lines += md_quote(answers[key].strip(), limit=ANSWER_CAP)
            lines += ["", f"_(from {sources[key]})_"]
        else:
            lines.append("_missing_")
        lines.append("")
    extra = [k for k in answers if k not in keys]
    if extra:
        lines += ["## Other keys (not WRITTEN keys of the homework)", ""]
        for key in extra[:EXTRA_KEYS_SHOWN]:
            lines += [f"### {md_inline(key, limit=100)}", ""] + md_quote(answers[key].strip(), limit=ANSWER_CAP) + [""]
        if len(extra) > EXTRA_KEYS_SHOWN:
            lines += [f"... and {len(extra) - EXTRA_KEYS_SHOWN:,} more keys, not shown.", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(args) -> int:
    from hw11grader.options import add_limit_options, limits_from
    from hw11grader.loading import LoadError, discover
    from hw11grader.judge.registry import load_content

    p = argparse.ArgumentParser(prog="python grader.py written",
                                description="Collect a submission's WRITTEN answers into a markdown file.")
    p.add_argument("submission", help="hw11.ipynb / hw11.py, or a folder holding one")
    p.add_argument("--out", required=True, help="the markdown file to write")
    add_limit_options(p)
    a = p.parse_args(args)
    try:
        path = discover(a.submission)
    except LoadError as e:
        print(f"grader.py written: {e}", file=sys.stderr)
        return 2
    content = load_content()
    answers, sources, notes = collect(path, content, limits_from(a))
    write_atomic(a.out, render(path, content, answers, sources, notes))
    present = sum(k in answers for k in content.written_keys)
    print(f"wrote {a.out}: {present} of {len(content.written_keys)} written answers present")
    return 0
