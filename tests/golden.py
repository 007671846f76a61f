"""Reports of every fixture as they were before a refactor: a regrade must reproduce them.

Every test that grades a submission file with ``--json`` (through
``conftest.run_grader``) also compares the report with the one recorded
here for the same submission text and the same options: the score, status
and message of every check, and the exit code. Durations and paths are
not compared. So a move of the engine, or a speed-up, that changes what
any fixture, mutant or adversarial submission is told fails the very test
that graded it.

Record (after a deliberate change of what some fixture is told):
``HW11_RECORD_GOLDEN=1 python -m pytest -n 2 [the tests that grade it]`` then
``python tests/golden.py merge --replace``; review the diff of
``tests/golden/reports.json`` (and say in the commit why each report changed).
Plain ``merge`` keeps the recorded reports and leaves out any that two runs
of the recording disagree on.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GOLDEN = HERE / "golden" / "reports.json"
RECORDS = HERE / "golden" / "records"
# Options whose value is a path of the test's own (the report, the feedback folder).
PATH_OPTIONS = {"--json", "--feedback"}
_loaded = None


def _golden():
    global _loaded
    if _loaded is None:
        _loaded = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    return _loaded


def key(args):
    """The submission's text digest and the options, or None when this is not a grading of a file."""
    args = [str(a) for a in args]
    if not args or not Path(args[0]).is_file() or "--json" not in args:
        return None
    digest = hashlib.sha256(Path(args[0]).read_bytes()).hexdigest()[:20]
    options, skip = [], False
    for a in args[1:]:
        if skip:
            skip = False
            continue
        if a in PATH_OPTIONS:
            skip = True
            continue
        options.append(a)
    return f"{digest} {' '.join(options)}"


def summary(report: dict, code: int) -> dict:
    return {"exit": code, "score": report.get("score"),
            "checks": [[c["id"], c["status"], c["score"], c["message"]] for c in report.get("checks", [])]}


def root_mode() -> str:
    return "root" if hasattr(os, "geteuid") and os.geteuid() == 0 else "user"


def compare_or_record(args, code):
    k = key(args)
    if k is None:
        return
    out = Path(str(list(args)[list(map(str, args)).index("--json") + 1]))
    if not out.exists():
        return
    got = summary(json.loads(out.read_text()), code)
    entry = f"{root_mode()} {k}"
    if os.environ.get("HW11_RECORD_GOLDEN"):
        RECORDS.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"key": entry, "name": Path(str(args[0])).name, "report": got})
        with open(RECORDS / f"{os.getpid()}.jsonl", "a") as f:
            f.write(line + "\n")
        return
    want = _golden().get(entry)
    if want is None:
        return
    assert got["exit"] == want["report"]["exit"], f"exit code changed for {want['name']}"
    assert got["score"] == want["report"]["score"], f"score changed for {want['name']}"
    assert got["checks"] == want["report"]["checks"], _diff(want["name"], want["report"]["checks"], got["checks"])


def _diff(name, want, got):
    lines = [f"the report of {name} changed from the one recorded in tests/golden/reports.json:"]
    w, g = {c[0]: c for c in want}, {c[0]: c for c in got}
    for cid in sorted(set(w) | set(g)):
        if w.get(cid) != g.get(cid):
            lines.append(f"  {cid}: was {w.get(cid)!r}\n  {' ' * len(cid)}  now {g.get(cid)!r}")
    return "\n".join(lines[:40])


def merge(replace=False):
    merged = dict(_golden())
    fresh = set()
    for f in sorted(RECORDS.glob("*.jsonl")):
        for line in f.read_text().splitlines():
            rec = json.loads(line)
            if replace and rec["key"] not in fresh:
                merged.pop(rec["key"], None)
                fresh.add(rec["key"])
            if rec["key"] in merged and merged[rec["key"]]["report"] != rec["report"]:
                print(f"not deterministic: {rec['name']} ({rec['key']})", file=sys.stderr)
                merged[rec["key"]]["unstable"] = True
                continue
            merged[rec["key"]] = {"name": rec["name"], "report": rec["report"]}
        f.unlink()
    unstable = [k for k, v in merged.items() if v.pop("unstable", False)]
    for k in unstable:
        del merged[k]
    GOLDEN.write_text(json.dumps(dict(sorted(merged.items())), indent=1, ensure_ascii=True) + "\n")
    print(f"{len(merged)} reports in {GOLDEN.relative_to(ROOT)}; {len(unstable)} unstable left out")


if __name__ == "__main__" and sys.argv[1:2] == ["merge"]:
    merge(replace="--replace" in sys.argv[2:])
