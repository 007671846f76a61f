"""The reference cache: the reference's own runs of the grader's experiments.

The grading process never imports torch. The reference's sweeps (Q4), its
pruning-sensitivity curves (Q7) and its LoRA scenarios (Q1) are produced by
``python -m hw11grader.staff.build_cache`` in a subprocess, which runs the very
experiment code the submissions run (``experiments/``) with a reference
namespace of torch update rules, and writes one JSON file per result:

    REPO/.cache/reference/<name>-<key>.json

``key`` is the first 20 hex digits of a sha256 over the source text of
``experiments/*.py``, the wire the experiments call the reference through
(``hw11grader/boundary/lab.py`` and ``boundary/child/``), ``reference/q4_batch.py``, ``reference/q7_sensitivity.py``,
this file and the builder (``hw11grader/staff/build_cache.py``), the builder's ``SETTINGS``, the cache format and
the versions of Python, numpy and torch (read from the installed metadata,
torch is not imported). Any change to the experiments or the reference
changes the key, so a stale file is never read: the first use after a change
(or on a fresh checkout) rebuilds every missing result in one subprocess
(about 10 s CPU), under a lock file so that concurrent gradings do not build
twice; files of older keys are then removed. Everything is seeded: two builds
give byte-identical files (tests/test_reference_q4.py).

The folder is ``$HW11_CACHE_DIR`` if set, else ``REPO/.cache/reference``, or,
when that cannot be written (a read-only installation), a folder under the
system's temporary directory.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORMAT = 1
NAMES = ("q4_a", "q4_b", "q4_c_linreg", "q4_c_mlp", "q7_sensitivity", "q1_scenarios")
BUILD_TIMEOUT_S = 900


class CacheError(RuntimeError):
    """The reference cache could not be built or read (a grader problem, never the student's)."""


def _sources():
    files = sorted((ROOT / "experiments").glob("*.py"))
    # the experiments reach the reference through the same wire as a submission
    files += [ROOT / "hw11grader" / "boundary" / "lab.py"]
    files += sorted((ROOT / "hw11grader" / "boundary" / "child").glob("*.py"))
    files += [ROOT / "hw11grader" / "staff" / "build_cache.py"]
    files += [ROOT / "reference" / n for n in ("q4_batch.py", "q7_sensitivity.py", "cache.py", "empirical.py")]
    return files


def _versions():
    from importlib import metadata
    out = {"python": f"{sys.version_info[0]}.{sys.version_info[1]}"}
    for dist in ("numpy", "torch"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def compute_key(extra: str = "") -> str:
    """The cache key of the current sources, settings and library versions."""
    h = hashlib.sha256()
    h.update(f"format={FORMAT}\n{extra}\n".encode())
    h.update(json.dumps(_versions(), sort_keys=True).encode())
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
        h.update(f"\n--- {rel}\n".encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:20]


@lru_cache(maxsize=None)
def key() -> str:
    return compute_key()


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
        return True
    except OSError:
        return False


@lru_cache(maxsize=None)
def folder() -> Path:
    env = os.environ.get("HW11_CACHE_DIR")
    if env:
        return Path(env)
    here = ROOT / ".cache" / "reference"
    if _writable(here):
        return here
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"hw11-reference-cache-{uid}"


def path_of(name: str, directory: Path | None = None, cache_key: str | None = None) -> Path:
    return Path(directory or folder()) / f"{name}-{cache_key or key()}.json"


class _Lock:
    """An exclusive lock on ``directory/.lock`` (fcntl; a no-op where fcntl is missing)."""

    def __init__(self, directory: Path):
        self.path = directory / ".lock"
        self.fd = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return self
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            import fcntl
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def build(names=NAMES, directory: Path | None = None, cache_key: str | None = None) -> None:
    """Run the builder subprocess for ``names`` (writes ``<name>-<key>.json`` into ``directory``)."""
    directory = Path(directory or folder())
    directory.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "hw11grader.staff.build_cache", "--out", str(directory),
           "--key", cache_key or key(), *names]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=BUILD_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise CacheError(f"building the reference cache failed: {e}") from None
    if proc.returncode != 0:
        raise CacheError(f"building the reference cache failed (exit {proc.returncode}): "
                         f"{proc.stderr.strip()[-1500:]}")


def _remove_stale(directory: Path, names, cache_key: str):
    for name in names:
        for old in directory.glob(f"{name}-*.json"):
            if old.name != f"{name}-{cache_key}.json":
                try:
                    old.unlink()
                except OSError:
                    pass


def ensure(names=NAMES, directory: Path | None = None, cache_key: str | None = None,
           everything: bool = True) -> None:
    """Build whatever of ``names`` is missing for the key (once, under the lock).

    ``everything``: build every missing result of ``NAMES`` in the same subprocess
    (torch is imported once; a grading needs them all). Files of other keys for the
    built names are removed afterwards.
    """
    directory = Path(directory or folder())
    cache_key = cache_key or key()
    if all(path_of(n, directory, cache_key).exists() for n in names):
        return
    directory.mkdir(parents=True, exist_ok=True)
    with _Lock(directory):
        wanted = NAMES if everything else tuple(names)
        missing = [n for n in wanted if not path_of(n, directory, cache_key).exists()]
        if missing:
            build(missing, directory, cache_key)
            _remove_stale(directory, missing, cache_key)
    absent = [n for n in names if not path_of(n, directory, cache_key).exists()]
    if absent:
        raise CacheError(f"the reference cache builder did not write {', '.join(absent)}")


_MEMO: dict = {}


def load(name: str):
    """The cached reference result ``name`` (built on first use). Returns plain data."""
    if name not in NAMES:
        raise KeyError(name)
    cache_key = key()
    memo_key = (str(folder()), cache_key, name)
    if memo_key not in _MEMO:
        ensure([name])
        try:
            doc = json.loads(path_of(name).read_text())
        except (OSError, ValueError) as e:
            raise CacheError(f"the reference cache file for {name} could not be read: {e}") from None
        if doc.get("key") != cache_key or doc.get("name") != name:
            raise CacheError(f"the reference cache file for {name} does not belong to key {cache_key}")
        _MEMO[memo_key] = doc["data"]
    return copy.deepcopy(_MEMO[memo_key])
