"""Files: finding the submission inside a folder whatever the student named it, and writing atomically."""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# hw11.ipynb, HW11.ipynb, hw11 (1).ipynb, hw11-final.py, hw_11.py; not hw110.py
SUBMISSION_NAME = re.compile(r"^hw[\s_-]*11(?!\d)", re.IGNORECASE)
SUFFIXES = (".ipynb", ".py")
# Folders that hold copies or metadata, never the submission itself.
IGNORED_FOLDERS = {"__MACOSX", "__pycache__", ".ipynb_checkpoints", ".git", "node_modules"}


@dataclass
class Found:
    """The submission picked inside a folder, and why."""

    path: Path | None
    note: str  # one sentence for the report: what was picked, from what
    candidates: list = field(default_factory=list)


def _ignored(rel: Path) -> bool:
    return any(part.startswith(".") or part in IGNORED_FOLDERS for part in rel.parts)


def candidate_files(folder: Path) -> list:
    """Every .ipynb / .py file under ``folder`` (any depth), symlinks and hidden files skipped."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in IGNORED_FOLDERS)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.suffix.lower() in SUFFIXES and not path.is_symlink() and not _ignored(path.relative_to(folder)):
                found.append(path)
    return found


def find_submission(folder) -> Found:
    """The student's file: a name like hw11*.ipynb / hw11*.py (notebooks first, the
    exact name first, the shallowest first); else the only notebook; else the only .py."""
    folder = Path(folder)
    files = candidate_files(folder) if folder.is_dir() else []
    rel = {p: p.relative_to(folder).as_posix() for p in files}
    if not files:
        return Found(None, f"no .ipynb or .py file was found in the submission ({folder})")
    named = [p for p in files if SUBMISSION_NAME.match(p.name)]

    def rank(p):
        return (p.suffix.lower() != ".ipynb", p.stem.lower() != "hw11", len(p.relative_to(folder).parts),
                rel[p].lower())

    listing = ", ".join(f"`{rel[p]}`" for p in files[:20]) + (" ..." if len(files) > 20 else "")
    if named:
        named.sort(key=rank)
        pick = named[0]
        if len(named) == 1:
            note = f"graded `{rel[pick]}`"
        else:
            others = ", ".join(f"`{rel[p]}`" for p in named[1:6])
            note = (f"graded `{rel[pick]}` (several files look like the homework; also found {others}: "
                    "notebooks come first, then the exact name hw11, then the shallowest)")
        return Found(pick, note, files)
    for suffix in SUFFIXES:
        same = [p for p in files if p.suffix.lower() == suffix]
        if len(same) == 1:
            return Found(same[0], f"graded `{rel[same[0]]}` (no file is named hw11{suffix}; "
                                  f"it is the only {suffix} file)", files)
        if len(same) > 1:
            return Found(None, f"no file is named like hw11.ipynb or hw11.py, and there are several "
                               f"{suffix} files ({listing}): rename yours hw11{suffix} and resubmit", files)
    return Found(None, f"no hw11.ipynb or hw11.py was found (files: {listing})", files)


def write_atomic(path, text: str):
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``: whatever
    was there before (even a planted file or symlink) is replaced, never written through."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
