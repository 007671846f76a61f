"""Finding a submission and turning it into code cells (trusted code only).

Nothing here runs student code: a notebook is read as JSON (older formats
converted by nbformat), magics and shell escapes are blanked out, and the
cells are handed to the child.

The submission is read as data, with bounds checked before anything big is
built (see the README's limits paragraph):

* the file itself is opened with ``O_NOFOLLOW``: a submission whose last path
  component is a symbolic link is refused, whatever it points to, so the
  grader (root, in CI and on Gradescope) never reads through a link out of
  the submission's folder. The folders named on the command line are the
  operator's choice and are followed. A FIFO, a device or a folder is refused
  too (it is opened non-blocking, then must be a regular file);
* at most ``MAX_FILE_BYTES`` are read (its size is checked before reading);
* a notebook has at most ``MAX_JSON_PARTS`` brackets (counted in its bytes,
  an upper bound on the objects the JSON parser builds: its memory stays in
  tens of MB) and at most ``MAX_CELLS`` cells, counted on the parsed JSON
  before any notebook object is built (nbformat's schema validation, slow on
  huge or malformed notebooks, is never run: it only ever logged);
* the code sent to the child is at most ``MAX_CODE_BYTES`` as sent (JSON),
  so that the load request always fits in one wire frame;
* at most ``MAX_WARNINGS`` warnings are kept, then one that counts the rest.

A refused submission is a ``LoadError``: a report saying why, score 0.
"""
from __future__ import annotations

import errno
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from hw11grader.text import clean_unicode, escape_line

SEARCH_NAMES = ("hw11.ipynb", "hw11.py")
MB = 1024 * 1024
MAX_FILE_BYTES = 16 * MB
MAX_CELLS = 10_000
MAX_JSON_PARTS = 1_000_000  # brackets counted in the bytes, before parsing: bounds the parser's memory
MAX_CODE_BYTES = 15 * MB  # the wire's frame is 16 MB of JSON (wire.MAX_JSON_BYTES)
MAX_WARNINGS = 20
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
        if p.is_dir():  # a folder named by the operator is followed; links inside it are not
            return _search([p])
        if not p.exists() and not p.is_symlink():  # a link is graded (and refused) by load()
            raise LoadError(f"{target} does not exist")
        return p
    return _search([cwd, cwd / "student_template"])


def _search(folders: list[Path]) -> Path:
    for folder in folders:
        for name in SEARCH_NAMES:
            if (folder / name).is_file() and not (folder / name).is_symlink():
                return _relative(folder / name)
        for name in SEARCH_NAMES:  # only links: load() refuses it, in a report that says so
            if (folder / name).is_symlink():
                return _relative(folder / name)
    where = " or ".join(str(f) for f in folders)
    raise LoadError(f"no hw11.ipynb or hw11.py found in {where}")


def _relative(p: Path) -> Path:
    try:
        return p.relative_to(Path.cwd())
    except ValueError:
        return p


def _size(n: int) -> str:
    return f"{n / MB:.1f} MB" if n >= MB / 10 else f"{n:,} bytes"


def read_submission(path: Path) -> bytes:
    """The submission's bytes, read as data: never through a symbolic link, at most MAX_FILE_BYTES."""
    name = _shown(path.name)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        if path.is_symlink():  # (O_NOFOLLOW refuses it too; this says why)
            raise LoadError(f"{name} is a symbolic link: the grader does not follow links "
                            "(submit the file itself)")
        fd = os.open(path, flags)
    except LoadError:
        raise
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise LoadError(f"{name} is a symbolic link: the grader does not follow links "
                            "(submit the file itself)") from None
        raise LoadError(f"cannot read {_shown(str(path))}: {e.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise LoadError(f"{name} is not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise LoadError(_too_large(name, info.st_size))
        chunks, total = [], 0
        while total <= MAX_FILE_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_FILE_BYTES + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > MAX_FILE_BYTES:  # it grew while being read
            raise LoadError(_too_large(name, total))
        return b"".join(chunks)
    except OSError as e:
        raise LoadError(f"cannot read {name}: {e.strerror}") from None
    finally:
        os.close(fd)


def _too_large(name, size):
    return (f"{name} is too large to grade ({_size(size)}; the grader reads submissions of at most "
            f"{MAX_FILE_BYTES // MB} MB). If it is a notebook, clear its outputs and submit it again")


def _shown(text: str) -> str:
    return escape_line(text, limit=200)


def load(path: Path) -> Submission:
    path = Path(path)
    data = read_submission(path)
    if path.suffix == ".ipynb":
        sub = _load_notebook(path, data)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise LoadError(f"{_shown(path.name)} is not UTF-8 text") from None
        sub = Submission(path=path, kind="module", cells=[Cell(path.name, path.name, text)])
    _check_code_size(sub)
    return sub


def _check_code_size(sub: Submission):
    sent = sum(len(json.dumps(c.source)) + 2 * len(json.dumps(c.name)) + 64 for c in sub.cells)
    if sent > MAX_CODE_BYTES:
        raise LoadError(f"{_shown(sub.path.name)} holds too much code to grade ({_size(sent)} as sent to "
                        f"its process; the limit is {MAX_CODE_BYTES // MB} MB)")


def _count_cells(nb) -> int:
    """Cells of a parsed notebook of any format version (v4 ``cells``, v3 ``worksheets``)."""
    count = 0
    cells = nb.get("cells")
    if isinstance(cells, list):
        count += len(cells)
    worksheets = nb.get("worksheets")
    if isinstance(worksheets, list):
        count += len(worksheets)
        for ws in worksheets:
            if isinstance(ws, dict) and isinstance(ws.get("cells"), list):
                count += len(ws["cells"])
    return count


def _parse_notebook(path: Path, data: bytes) -> list:
    """The notebook's cells (v4 dicts), with bounded time and memory; LoadError if it is not one."""
    name = _shown(path.name)

    def invalid(why):
        return LoadError(f"{name} is not a valid notebook ({why})")

    parts = data.count(b"{") + data.count(b"[")  # an upper bound on the JSON objects and arrays to build
    if parts > MAX_JSON_PARTS:
        raise LoadError(f"{name} is too complex to grade (up to {parts:,} JSON objects and arrays; the grader "
                        f"reads notebooks of at most {MAX_JSON_PARTS:,})")
    try:
        nb = json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError, MemoryError) as e:  # includes UnicodeDecodeError
        kind = "not UTF-8" if isinstance(e, UnicodeDecodeError) else "NotJSONError"
        raise invalid(kind) from None
    if not isinstance(nb, dict):
        raise invalid("NotJSONError")
    n = _count_cells(nb)
    if n > MAX_CELLS:
        raise LoadError(f"{name} has too many cells to grade ({n:,}; the grader reads notebooks of at "
                        f"most {MAX_CELLS:,} cells)")
    if nb.get("nbformat") == 4:
        cells = nb.get("cells", [])
        if not isinstance(cells, list):
            raise invalid("cells is not a list")
        return cells
    # an older format: nbformat converts it (outputs dropped first: never used, and unbounded)
    for ws in nb.get("worksheets") or []:
        if isinstance(ws, dict):
            for cell in ws.get("cells") or []:
                if isinstance(cell, dict) and "outputs" in cell:
                    cell["outputs"] = []
    try:
        import nbformat
        from nbformat.reader import reads as reads_any

        converted = nbformat.convert(reads_any(json.dumps(nb)), 4)
    except Exception as e:  # nbformat raises many kinds; all mean "not a notebook"
        raise invalid(type(e).__name__) from None
    return list(converted.get("cells", []))


def _load_notebook(path: Path, data: bytes) -> Submission:
    cells = _parse_notebook(path, data)
    sub = Submission(path=path, kind="notebook", cells=[])
    warnings = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            if not all(isinstance(line, str) for line in source):
                continue
            source = "".join(source)
        if not isinstance(source, str):
            continue
        source = clean_unicode(source)
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
        metadata = cell.get("metadata")
        tags = (metadata.get("tags") if isinstance(metadata, dict) else None) or []
        if isinstance(tags, list) and "skip-grading" in tags:
            warnings.append(f"{name} is tagged skip-grading: not run")
            continue
        if source.lstrip().startswith("%%"):
            first = source.lstrip().split("\n", 1)[0]
            warnings.append(f"{name} starts with the cell magic {_quote(first)}: skipped whole")
            continue
        code, skipped = strip_magics(source)
        for lineno, line in skipped:
            warnings.append(f"{name}, line {lineno}: skipped {_quote(line.strip())}")
        sub.cells.append(Cell(name, f"<{name}>", code))
    sub.warnings = cap_warnings(warnings)
    return sub


def cap_warnings(warnings: list, limit: int = MAX_WARNINGS) -> list:
    """The first ``limit`` warnings, then one that says how many more there were."""
    if len(warnings) <= limit:
        return list(warnings)
    more = len(warnings) - limit
    return list(warnings[:limit]) + [f"... and {more:,} more warning{'s' if more != 1 else ''} like these "
                                     "(skipped magics, shell escapes and cells)"]


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
