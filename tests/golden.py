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

Messages are compared word for word, and their numbers up to the last bits of
float64 arithmetic, which differ between CPUs (another BLAS or LAPACK kernel
for the same product): two numbers match when they are within a relative
``NUMBER_RTOL`` of each other, or are both below ``NOISE`` in magnitude (the
rounding noise of an exact zero, e.g. the third singular value of a rank-2
matrix). Everything else - every word, every integer, the status and score
of every check - must be what was recorded.

A submission whose report depends on how fast the machine is, not only on its
text, is neither recorded nor compared (``SPEED_DEPENDENT``): its own test
asserts what holds at any speed.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GOLDEN = HERE / "golden" / "reports.json"
RECORDS = HERE / "golden" / "records"
# Options whose value is a path of the test's own (the report, the feedback folder).
PATH_OPTIONS = {"--json", "--feedback"}
_loaded = None
# Fixtures whose report depends on the machine's speed, and why.
SPEED_DEPENDENT = {
    # Its load writes every byte its address-space limit allows. On a virtual machine whose host
    # backs guest memory lazily, first-touch writes ran at 2.7 GB/s or at 65 MB/s (seen on this
    # machine minutes apart), so the load ends with MemoryError in 0.4 s or runs past --load-timeout.
    "memory_hog.py",
}
# A number as messages print it (values.g, repr, %g): digits, a point, an exponent.
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])")
NUMBER_RTOL = 1e-6   # printed with at most 7 significant digits: one unit in the last of them
NOISE = 1e-12        # below this, a float is rounding noise (the messages' data are of order 1 or more)


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
    if k is None or Path(str(args[0])).name in SPEED_DEPENDENT:
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
    assert same_checks(got["checks"], want["report"]["checks"]), \
        _diff(want["name"], want["report"]["checks"], got["checks"])


def _same_number(a: str, b: str) -> bool:
    if a == b:
        return True
    if not any(c in a + b for c in ".eE"):     # integers (counts, shapes, seeds) are exact
        return False
    x, y = float(a), float(b)
    return (abs(x) < NOISE and abs(y) < NOISE) or math.isclose(x, y, rel_tol=NUMBER_RTOL)


def same_message(a: str, b: str) -> bool:
    """The same words, and numbers that differ at most in float64's last bits (see the module doc)."""
    if a == b:
        return True
    if type(a) is not str or type(b) is not str or _NUMBER.split(a) != _NUMBER.split(b):
        return False
    return all(_same_number(x, y) for x, y in zip(_NUMBER.findall(a), _NUMBER.findall(b)))


def same_checks(got, want) -> bool:
    """Every check's id, status and score exactly, its message up to float64 rounding."""
    return len(got) == len(want) and all(
        g[:3] == w[:3] and same_message(g[3], w[3]) for g, w in zip(got, want))


def _diff(name, want, got):
    lines = [f"the report of {name} changed from the one recorded in tests/golden/reports.json:"]
    w, g = {c[0]: c for c in want}, {c[0]: c for c in got}
    for cid in sorted(set(w) | set(g)):
        if w.get(cid) is None or g.get(cid) is None or not same_checks([g[cid]], [w[cid]]):
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
