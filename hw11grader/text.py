"""Student text, shown and never obeyed: the one escaping helper of every report.

Whatever a submission controls (exception messages, returned strings, WRITTEN
answers, cell sources quoted in warnings, its own output, even its file name)
goes through these functions before it reaches a terminal, a JSON report,
``results.json``, the class statistics or the ``written`` export:

* ``escape``: control characters and invisible formatting characters are
  shown as visible escapes (``\\x1b``, ``\\r``, ``\\u202e``): C0 controls
  (newline and tab kept, unless ``newlines=False``), DEL, C1 controls, bidi
  overrides and isolates, zero-width characters, line and paragraph
  separators, the BOM and lone surrogates. So no escape sequence reaches a
  terminal, no carriage return overwrites a line, and every remaining line
  break is a ``\\n`` that the caller indents.
* ``md_inline``: one line of markdown text (a file name, a key, a message in
  a list): escaped, newlines included, and the characters that open markdown
  or HTML (``< > & [ ] | \\``) escaped too, so it cannot start a heading, a
  link, an image, a comment or a table cell.
* ``md_quote``: a multi-line answer as a markdown blockquote whose lines cannot
  open a heading (ATX ``#`` or setext ``===``/``---`` underline), HTML or a link.
* ``md_fence``: text in a fenced code block whose fence is longer than any run
  of backticks inside, so it cannot be closed early.
"""
from __future__ import annotations

import re

MESSAGE_CAP = 20_000  # characters of one message or warning shown in a report

# what is never shown raw (newline and tab are handled by the caller's choice)
_INVISIBLE = ("\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069"
              "\ufeff\ufff9-\ufffb\ud800-\udfff")
_CONTROL = re.compile(f"[{_INVISIBLE}]")
_CONTROL_AND_LAYOUT = re.compile(f"[{_INVISIBLE}\t\n]")
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _visible(m: re.Match) -> str:
    c = m.group()
    if c in _SHORT:
        return _SHORT[c]
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"


def escape(text, *, newlines: bool = True, limit: int | None = None) -> str:
    """``text`` with every control or invisible character shown as a visible escape.

    ``newlines`` keeps line breaks (a ``\\r\\n`` becomes ``\\n``) and tabs; the
    caller then indents every line. ``limit`` caps the length (a note says how
    many characters were left out).
    """
    if not isinstance(text, str):
        try:
            text = str(text)
        except Exception:  # noqa: BLE001 - a value that cannot even be shown
            text = "<text that could not be shown>"
    cut = 0
    if limit is not None and len(text) > limit:
        cut = len(text) - limit
        text = text[:limit]
    if newlines:
        text = _CONTROL.sub(_visible, text.replace("\r\n", "\n"))
    else:
        text = _CONTROL_AND_LAYOUT.sub(_visible, text)
    if cut:
        text += f" [... {cut} more characters]"
    return text


def escape_line(text, limit: int | None = None) -> str:
    """One line of student text (a file name, a key): line breaks shown as ``\\n`` too."""
    return escape(text, newlines=False, limit=limit)


_MD_SPECIAL = re.compile(r"[\\&<>\[\]|]")
_MD_REPLACE = {"\\": "\\\\", "&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "\\[", "]": "\\]", "|": "\\|"}


def _md_chars(text: str) -> str:
    return _MD_SPECIAL.sub(lambda m: _MD_REPLACE[m.group()], text)


def md_inline(text, limit: int | None = None) -> str:
    """Student text inside one line of markdown: shown, never markup."""
    return _md_chars(escape_line(text, limit))


_ATX = re.compile(r"^( {0,3})#")
_SETEXT = re.compile(r"^( {0,3})([=-])(\2*\s*)$")


def md_quote(text, limit: int | None = None) -> list:
    """Student text as markdown blockquote lines (``> ...``) that cannot forge structure."""
    out = []
    for line in escape(text, limit=limit).split("\n"):
        line = _md_chars(line.rstrip())
        line = _ATX.sub(r"\1\\#", line)  # never a heading
        line = _SETEXT.sub(r"\1\\\2\3", line)  # never the underline of a heading
        out.append(("> " + line).rstrip())
    return out


def md_fence(text, info: str = "", limit: int | None = None) -> str:
    """Student text as a fenced code block that the text itself cannot close."""
    body = escape(text, limit=limit)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body}\n{fence}"


def clean_unicode(text: str) -> str:
    """``text`` as valid Unicode: each lone surrogate replaced by U+FFFD."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return re.sub("[\ud800-\udfff]", "\ufffd", text)
