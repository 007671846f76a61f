"""Finding a submission and turning it into code cells (trusted code only).

Nothing here runs student code: a notebook is parsed with nbformat, magics
and shell escapes are blanked out, and the cells are handed to the child.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

SEARCH_NAMES = ("hw11.ipynb", "hw11.py")
WRITTEN_MARKER = re.compile(r"^\s*\*\*WRITTEN\s+([A-Za-z0-9_]+)\s*\*\*")
SHELL_ASSIGNMENT = re.compile(r"^\s*[A-Za-z_][\w.]*(\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*[!%]")


class LoadError(Exception):
    """The submission cannot be read at all (not JSON, not UTF-8, absent)."""


@dataclass(frozen=True)
class Cell:
    name: str  # "cell 7" or "hw11.py"
    filename: str  # what tracebacks show: "<cell 7>" or "hw11.py"
    source: str


@dataclass
class Submission:
    path: Path  # as given
    kind: str  # "module" | "notebook"
    cells: list[Cell]
    written_cells: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def module_name(self) -> str:
        return "__main__" if self.kind == "notebook" else "hw11"


def discover(target: str | None, cwd: Path | None = None) -> Path:
    """The file to grade: the path given, or hw11.ipynb / hw11.py nearby."""
    cwd = Path(cwd or os.getcwd())
    if target is not None:
        p = Path(target)
        if p.is_dir():
            return _search([p])
        if not p.exists():
            raise LoadError(f"{target} does not exist")
        return p
    return _search([cwd, cwd / "student_template"])


def _search(folders: list[Path]) -> Path:
    for folder in folders:
        for name in SEARCH_NAMES:
            if (folder / name).is_file():
                return _relative(folder / name)
    where = " or ".join(str(f) for f in folders)
    raise LoadError(f"no hw11.ipynb or hw11.py found in {where}")


def _relative(p: Path) -> Path:
    try:
        return p.relative_to(Path.cwd())
    except ValueError:
        return p


def load(path: Path) -> Submission:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise LoadError(f"cannot read {path}: {e.strerror}") from None
    if path.suffix == ".ipynb":
        return _load_notebook(path, data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LoadError(f"{path.name} is not UTF-8 text") from None
    return Submission(path=path, kind="module", cells=[Cell(path.name, path.name, text)])


def _load_notebook(path: Path, data: bytes) -> Submission:
    import nbformat

    try:
        nb = nbformat.reads(data.decode("utf-8-sig"), as_version=4)
    except Exception as e:  # nbformat raises many kinds; all mean "not a notebook"
        raise LoadError(f"{path.name} is not a valid notebook ({type(e).__name__})") from None
    sub = Submission(path=path, kind="notebook", cells=[])
    for number, cell in enumerate(nb.get("cells", []), start=1):
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        if not isinstance(source, str):
            continue
        ctype = cell.get("cell_type")
        if ctype == "markdown":
            m = WRITTEN_MARKER.match(source.split("\n", 1)[0])
            if m:
                key = m.group(1)
                sub.written_cells[key] = source[m.end():].strip()
            continue
        if ctype != "code":
            continue
        name = f"cell {number}"
        tags = (cell.get("metadata") or {}).get("tags") or []
        if isinstance(tags, list) and "skip-grading" in tags:
            sub.warnings.append(f"{name} is tagged skip-grading: not run")
            continue
        if source.lstrip().startswith("%%"):
            first = source.lstrip().split("\n", 1)[0]
            sub.warnings.append(f"{name} starts with the cell magic {_quote(first)}: skipped whole")
            continue
        code, skipped = strip_magics(source)
        for lineno, line in skipped:
            sub.warnings.append(f"{name}, line {lineno}: skipped {_quote(line.strip())}")
        sub.cells.append(Cell(name, f"<{name}>", code))
    return sub


def _quote(text: str, limit: int = 60) -> str:
    text = text if len(text) <= limit else text[:limit] + "..."
    return f"`{text}`"


def strip_magics(source: str) -> tuple[str, list[tuple[int, str]]]:
    """Replace IPython magics and shell escapes by `pass`, keeping line numbers.

    Only lines that start a logical line count: a `!` or `%` inside a string,
    a bracket or after a backslash continuation is Python, not a magic.
    """
    lines = source.split("\n")
    out, skipped = [], []
    scanner = _LogicalLineScanner()
    for i, line in enumerate(lines, start=1):
        starts_logical = scanner.at_logical_start()
        stripped = line.lstrip()
        if starts_logical and (stripped[:1] in ("%", "!") or SHELL_ASSIGNMENT.match(line)):
            indent = line[: len(line) - len(stripped)]
            out.append(f"{indent}pass  # skipped by the grader")
            skipped.append((i, line))
            scanner.reset()
            continue
        out.append(line)
        scanner.feed(line)
    return "\n".join(out), skipped


class _LogicalLineScanner:
    """Tracks brackets, strings and backslashes across physical lines."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.depth = 0
        self.string = None  # the open triple quote, if any
        self.backslash = False

    def at_logical_start(self) -> bool:
        return self.depth == 0 and self.string is None and not self.backslash

    def feed(self, line: str):
        i, n = 0, len(line)
        self.backslash = False
        while i < n:
            if self.string:
                if line.startswith(self.string, i):
                    i += len(self.string)
                    self.string = None
                    continue
                i += 2 if line[i] == "\\" else 1
                continue
            c = line[i]
            if c == "#":
                break
            if c in "([{":
                self.depth += 1
            elif c in ")]}":
                self.depth = max(0, self.depth - 1)
            elif c in "'\"":
                if line.startswith(c * 3, i):
                    self.string = c * 3
                    i += 3
                    continue
                j = i + 1
                while j < n and line[j] != c:
                    j += 2 if line[j] == "\\" else 1
                i = j + 1
                continue
            elif c == "\\" and i == n - 1:
                self.backslash = True
            i += 1
