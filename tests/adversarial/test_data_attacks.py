"""Attacks on what the grader reads and shows: the submission file, returned values, student text.

Each is graded as a real run would grade it (single, ``written``, ``batch``
and Gradescope modes, in subprocesses): the attacker scores 0, the grader
exits 0 with a report, nothing is a ``grader_error``, and nothing is left
behind. Big files are generated here, in the test's tmp_path (sparse where
the content does not matter), never committed.

* symlinks: a ``hw11.py`` linking to the reference (which would score Q5
  points) or to a root-only ``0600`` file (whose first line must never reach
  a report) is refused, never followed;
* size: an honest 300 KB module and a notebook with a 250,000-character cell
  are graded normally; 200 MB files, a million cells and a notebook of
  magic lines get a report (the first two refused before parsing: the
  grader's memory stays bounded by design), warnings capped;
* values: lone surrogates and 4,500-digit integers (the child lifting its own
  digit limit and patching its own encoder) are the student's bad values;
* text: escape sequences, carriage returns and fake "Score: 100 / 100." lines
  in messages, returned values, answers, the child's output and the file name
  are shown escaped; WRITTEN keys and file names cannot forge markdown.
"""
import csv
import json
import os
import re
import stat
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT, SUBMISSIONS, run_grader

HERE = Path(__file__).parent / "submissions"
LIMITS = ["--call-timeout", "20", "--load-timeout", "120", "--time-limit", "600"]
REFERENCE_Q5 = ROOT / "reference" / "q5_chinchilla.py"
MB = 1024 * 1024
GUARD = 300  # seconds: only stops a hung grader (never a speed assertion)

# what must never reach a report raw: C0 controls but newline and tab, DEL, C1, bidi, separators, surrogates
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069"
                         "\ufeff\ud800-\udfff]")


# ---------------------------------------------------------------- helpers

def repo_state():
    return sorted(str(p) for pattern in ("results.json", "report.json", "*pwned*")
                  for p in ROOT.rglob(pattern) if ".venv" not in p.parts)


@pytest.fixture
def unchanged_repo():
    before = repo_state()
    yield
    assert repo_state() == before, "the grader's folder changed"
    assert not Path("/tmp/hw11-pwned").exists()


def all_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from all_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from all_strings(v)


def assert_no_raw_control(text, where):
    bad = sorted({f"U+{ord(c):04X}" for c in RAW_CONTROL.findall(text)})
    assert not bad, f"{where} holds raw control characters {bad}"


def assert_clean_json(data, where):
    for s in all_strings(data):
        assert_no_raw_control(s, where)
        s.encode("utf-8")  # valid Unicode: no lone surrogate


def grade(tmp_path, submission, *args, name="report.json"):
    """Single mode, every check; returns (report, stdout). Asserts the common contract."""
    out = tmp_path / name
    code, stdout, stderr = run_grader(submission, "--all", "--json", out, "--feedback", tmp_path / "feedback",
                                      *LIMITS, *args, timeout=GUARD)
    assert code == 0, f"exit {code}\n{stdout[-3000:]}\n{stderr[-3000:]}"
    assert out.exists(), "no report was written"
    raw = out.read_bytes()
    raw.decode("utf-8")
    report = json.loads(raw)
    assert report["schema"] == 1
    assert abs(report["score"] - sum(c["score"] for c in report["checks"])) < 1e-9
    assert report["grader_errors"] == 0 and all(c["status"] != "grader_error" for c in report["checks"])
    assert_no_raw_control(stdout, "the terminal report")
    assert_clean_json(report, "the JSON report")
    return report, stdout


def attacker(tmp_path, submission, *args, name="report.json"):
    report, stdout = grade(tmp_path, submission, *args, name=name)
    assert report["score"] == 0, [c["id"] for c in report["checks"] if c["score"]]
    real = [line for line in stdout.splitlines() if re.match(r"(Public )?[Ss]core: ", line)]
    assert real == ["Score: 0 / %g." % report["max_score"]], real  # the only score line is the real one
    return report, stdout


def gradescope(tmp_path, files, name="gs"):
    """Lay out ROOT/submission/ (``files``: relative path -> bytes, or a callable making it) and grade it."""
    root = tmp_path / name
    sub = root / "submission"
    sub.mkdir(parents=True)
    for rel, make in files.items():
        path = sub / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(make):
            make(path)
        else:
            path.write_bytes(make)
        assert path.parent == sub or rel.count("/"), rel
    code, stdout, stderr = run_grader("gradescope", "--root", root, *LIMITS, timeout=GUARD)
    assert code == 0, f"exit {code}\n{stdout[-3000:]}\n{stderr[-3000:]}"
    res = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    assert res["score"] == 0
    assert all(t["name"] != "Autograder error" for t in res["tests"]), res["output"]
    assert "grader itself failed" not in res["output"]
    assert_clean_json(res, "results.json")
    assert_no_raw_control(stdout, "the Gradescope log")
    return res, stdout + stderr


def batch(tmp_path, entries, name="class"):
    """Grade a class folder (``entries``: relative path -> callable making it); returns records by id."""
    folder = tmp_path / name
    folder.mkdir()
    for rel, make in entries.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        make(path)
    out = tmp_path / f"{name}.jsonl"
    code, stdout, stderr = run_grader("batch", folder, "--out", out, "--jobs", "1", *LIMITS, timeout=GUARD)
    assert code == 0, f"exit {code}\n{stdout[-3000:]}\n{stderr[-3000:]}"
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    for r in records:
        assert r["status"] != "grader_error", r
        assert r["score"] == 0, r["id"]
        assert_clean_json(r, "the batch JSONL")
    return {r["id"]: r for r in records}, out, stdout + stderr


def written(tmp_path, submission, name="written.md"):
    out = tmp_path / name
    code, stdout, stderr = run_grader("written", submission, "--out", out, *LIMITS, timeout=GUARD)
    assert code == 0, f"exit {code}\n{stdout[-3000:]}\n{stderr[-3000:]}"
    md = out.read_text(encoding="utf-8")
    assert_no_raw_control(md, "the written export")
    return md


def markdown_structure(md):
    """(headings as (level, text), whether any HTML or link/image is rendered) per CommonMark + GFM tables."""
    from markdown_it import MarkdownIt
    tokens = MarkdownIt("commonmark").enable("table").parse(md)
    headings, html, links = [], False, False
    for i, t in enumerate(tokens):
        if t.type == "heading_open":
            headings.append((int(t.tag[1]), tokens[i + 1].content))
        if t.type == "html_block":
            html = True
        for child in t.children or []:
            if child.type == "html_inline":
                html = True
            if child.type in ("link_open", "image"):
                links = True
    return headings, html, links


def written_keys():
    from hw11grader import load_content
    return list(load_content().written_keys)


def symlink(target):
    return lambda path: os.symlink(target, path)


def secret_file(tmp_path):
    """A root-only (0600) file whose first line is a secret; (path, secret)."""
    secret = "HW11-ROOT-ONLY-SECRET-7f3a9c"
    path = tmp_path / "root_only.txt"
    path.write_text(f"{secret} = 1\nprint({secret})\n")
    os.chmod(path, 0o600)
    return path, secret


def notebook_bytes(cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) if kind == "code" else nbformat.v4.new_markdown_cell(src)
                for kind, src in cells]
    return nbformat.writes(nb).encode("utf-8")


# ---------------------------------------------------------------- symlinks

def test_a_symlink_to_the_reference_is_refused_in_single_mode(tmp_path, unchanged_repo):
    folder = tmp_path / "student"
    folder.mkdir()
    os.symlink(REFERENCE_Q5, folder / "hw11.py")
    for target in (folder / "hw11.py", folder):  # the file named, or its folder
        report, stdout = attacker(tmp_path, target, "-q", "q5")
        assert {c["status"] for c in report["checks"]} == {"error"}
        assert "symbolic link" in report["checks"][0]["message"] and "symbolic link" in stdout
    assert sorted(p.name for p in folder.iterdir()) == ["hw11.py"]


def test_a_symlink_to_a_root_only_file_is_never_read(tmp_path, unchanged_repo):
    secret_path, secret = secret_file(tmp_path)
    for name in ("hw11.py", "hw11.ipynb"):
        folder = tmp_path / f"student_{name.replace('.', '_')}"
        folder.mkdir()
        os.symlink(secret_path, folder / name)
        report, stdout = attacker(tmp_path, folder / name, "-q", "q1", name=f"{name}.json")
        assert "symbolic link" in report["checks"][0]["message"]
        assert secret not in stdout and secret not in json.dumps(report)
        md = written(tmp_path, folder / name, name=f"{name}.md")
        assert secret not in md and "symbolic link" in md
    dangling = tmp_path / "dangling"
    dangling.mkdir()
    os.symlink(tmp_path / "absent.py", dangling / "hw11.py")
    report, _ = attacker(tmp_path, dangling / "hw11.py", "-q", "q1", name="dangling.json")
    assert "symbolic link" in report["checks"][0]["message"]
    assert stat.S_IMODE(secret_path.stat().st_mode) == 0o600


def test_symlinks_are_not_followed_in_batch_mode(tmp_path, unchanged_repo):
    secret_path, secret = secret_file(tmp_path)
    records, out, logs = batch(tmp_path, {
        "alice/hw11.py": symlink(REFERENCE_Q5),
        "bob/hw11.ipynb": symlink(secret_path),
        "carol.py": symlink(secret_path),
        "dave/nested": symlink(REFERENCE_Q5.parent),  # a linked folder is not walked
    })
    assert set(records) <= {"alice", "bob", "dave"}  # a linked top-level entry is no student at all
    for r in records.values():
        assert r["status"] in ("no_submission", "load_error") and not any(c["score"] for c in r.get("checks", []))
    assert secret not in out.read_text() and secret not in logs


def test_symlinks_are_not_followed_on_gradescope(tmp_path, unchanged_repo):
    secret_path, secret = secret_file(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "hw11.py").write_bytes(REFERENCE_Q5.read_bytes())
    cases = {
        "reference": {"hw11.py": symlink(REFERENCE_Q5)},
        "secret": {"hw11.ipynb": symlink(secret_path), "HW11 (1).py": symlink(secret_path)},
        "folder": {"nested": symlink(outside)},
    }
    for name, files in cases.items():
        res, logs = gradescope(tmp_path, files, name=name)
        assert secret not in json.dumps(res) and secret not in logs
        assert "No submission was graded" in res["output"]


# ---------------------------------------------------------------- size

def padded_correct(target_chars):
    code = (SUBMISSIONS / "correct.py").read_text()
    line = "# " + "an honest comment that makes the file long " * 2 + "\n"
    return code + "\n" + line * ((target_chars - len(code)) // len(line) + 1)


def q5_score(report):
    return report["questions"]["q5"]["score"], report["questions"]["q5"]["max_score"]


def test_an_honest_300_kb_module_is_graded_normally(tmp_path):
    path = tmp_path / "hw11.py"
    path.write_text(padded_correct(300_000))
    assert path.stat().st_size > 300_000
    report, _ = grade(tmp_path, path, "-q", "q5")
    got, out_of = q5_score(report)
    assert got == out_of == 20 and not report["warnings"]


def test_a_notebook_with_a_250000_character_cell_is_graded_normally(tmp_path):
    code = (SUBMISSIONS / "correct.py").read_text()
    filler = "x" * 100 + "\n"
    cell = code + '\nNOTES = """\n' + filler * (250_000 // len(filler)) + '"""\n'
    assert len(cell) > 250_000
    path = tmp_path / "hw11.ipynb"
    path.write_bytes(notebook_bytes([("markdown", "# HW11"), ("code", cell), ("code", "y = 1")]))
    report, _ = grade(tmp_path, path, "-q", "q5")
    got, out_of = q5_score(report)
    assert got == out_of == 20


def sparse(size):
    def make(path):
        with open(path, "wb") as f:
            f.truncate(size)
    return make


@pytest.mark.parametrize("name", ["hw11.py", "hw11.ipynb"])
def test_a_200_mb_file_gets_a_report_saying_why(tmp_path, unchanged_repo, name):
    path = tmp_path / name
    sparse(200 * MB)(path)
    report, stdout = attacker(tmp_path, path, "-q", "q1")
    message = report["checks"][0]["message"]
    # refused on its size, before a byte is parsed (what bounds the grader's memory)
    assert "too large to grade" in message and "200.0 MB" in message and "16 MB" in message
    assert {c["status"] for c in report["checks"]} == {"error"}
    records, _, _ = batch(tmp_path, {"eve.ipynb": sparse(200 * MB), "frank/hw11.py": sparse(20 * MB)})
    assert {r["status"] for r in records.values()} == {"load_error"}
    res, _ = gradescope(tmp_path, {name: sparse(200 * MB)})
    assert "too large to grade" in json.dumps(res)


def test_a_million_cells_get_a_report_saying_why(tmp_path, unchanged_repo):
    compact = tmp_path / "compact" / "hw11.ipynb"  # 3 MB: under the size cap, refused before parsing
    compact.parent.mkdir()
    compact.write_text('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": ['
                       + ",".join(["{}"] * 10**6) + "]}")
    cells = tmp_path / "cells" / "hw11.ipynb"  # 300,000 real cells, 10 MB: refused on the count
    cells.parent.mkdir()
    cells.write_text('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": ['
                     + ",".join(['{"cell_type":"code","source":"x"}'] * 300_000) + "]}")
    full = tmp_path / "full" / "hw11.ipynb"  # a million complete cells: 70 MB, refused on its size
    full.parent.mkdir()
    cell = '{"cell_type":"code","execution_count":null,"metadata":{},"outputs":[],"source":"x = 1"}'
    full.write_text('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": ['
                    + ",".join([cell] * 10**6) + "]}")
    expected = {compact: "too complex to grade", cells: "too many cells to grade", full: "too large to grade"}
    for path, why in expected.items():
        report, _ = attacker(tmp_path, path, "-q", "q1", name=f"{path.parent.name}.json")
        assert why in report["checks"][0]["message"], report["checks"][0]["message"]


def test_a_notebook_of_magic_lines_gets_capped_warnings(tmp_path, unchanged_repo):
    magic = "%ls \x1b[2J\rScore: 100 / 100.\n"
    cells = [("code", "%a\n" * 400_000), ("code", magic * 50)] + [("code", "!echo hi")] * 200
    path = tmp_path / "hw11.ipynb"
    path.write_bytes(notebook_bytes(cells))
    assert path.stat().st_size > 1.5 * MB
    report, stdout = attacker(tmp_path, path, "-q", "q1")
    assert len(report["warnings"]) <= 25
    assert any("more warning" in w for w in report["warnings"])
    assert len(stdout) < 60_000 and len((tmp_path / "report.json").read_bytes()) < 200_000


# ---------------------------------------------------------------- values

def test_lone_surrogates_in_returns_messages_and_answers(tmp_path, unchanged_repo):
    report, stdout = attacker(tmp_path, HERE / "surrogate_strings.py", "-q", "q1", "q5")
    by_id = {c["id"]: c for c in report["checks"]}
    assert by_id["q1.lora_bytes.numeric"]["status"] == "failed"
    assert by_id["q1.full_update_bytes.numeric"]["status"] == "error"
    assert by_id["q1.answers.q1a"]["status"] == "failed"
    md = written(tmp_path, HERE / "surrogate_strings.py")
    assert "my answer: bad \ufffd and \ufffd" in md
    res, _ = gradescope(tmp_path, {"hw11.py": (HERE / "surrogate_strings.py").read_bytes()})
    answers = {t["name"].split(" ")[0]: t["output"] for t in res["tests"] if "written" in t["name"]}
    assert answers["q1b"] == "my answer: bad \ufffd and \ufffd"


def test_integers_beyond_the_wire_bound_are_the_students_bad_value(tmp_path, unchanged_repo):
    report, _ = attacker(tmp_path, HERE / "big_integers.py", "-q", "q1", "q5")
    by_id = {c["id"]: c for c in report["checks"]}
    for cid in ("q1.lora_bytes.numeric", "q1.full_update_bytes.numeric", "q5.gpus_to_store.rounds_up",
                "q5.compute_for_params.matches_reference", "q5.param_bytes.matches_reference"):
        assert by_id[cid]["status"] in ("failed", "error") and "integer too large" in by_id[cid]["message"], \
            by_id[cid]
    report, _ = attacker(tmp_path, HERE / "big_integer_answers.py", "-q", "q1", "q5", )
    assert {c["status"] for c in report["checks"]} == {"error"}
    assert "integer too large" in report["checks"][0]["message"]
    records, _, _ = batch(tmp_path, {"mallory.py": lambda p: p.write_bytes((HERE / "big_integers.py").read_bytes())})
    assert records["mallory"]["status"] == "ok"
    res, _ = gradescope(tmp_path, {"hw11.py": (HERE / "big_integer_answers.py").read_bytes()})
    assert "integer too large" in json.dumps(res)


def test_wire_refuses_big_integers_before_converting_them():
    from hw11grader.boundary.child import wire
    import struct

    def frame(body):
        data = struct.pack(">II", len(body), 0) + body
        pos = [0]

        def read(n):
            out = data[pos[0]:pos[0] + n]
            pos[0] += n
            return out
        return read

    digits = sys.get_int_max_str_digits() + 200  # beyond what the parent itself may convert
    with pytest.raises(wire.WireError, match="integer too large"):
        wire.unpack(frame(b'{"v": %s}' % (b"9" * digits)))
    with pytest.raises(wire.WireError, match="integer too large"):
        wire.unpack(frame(b'{"v": {"$expr": ["Integer", -%s]}}' % (b"9" * 301)))
    assert wire.unpack(frame(b'{"v": %s}' % (b"9" * 300)))["v"] == 10**300 - 1
    out = wire.unpack(frame(b'{"v": "a\\ud800b", "k\\udfff": ["\\udc00"]}'))
    assert out == {"v": "a\ufffdb", "k\ufffd": ["\ufffd"]}
    with pytest.raises(wire.WireError):
        wire.unpack(frame(b'{"v": {"$float": "nope"}}'))


# ---------------------------------------------------------------- student text

def test_escape_sequences_and_fake_scores_are_shown_escaped(tmp_path, unchanged_repo):
    report, stdout = attacker(tmp_path, HERE / "escape_injection.py", "-q", "q1", "q5")
    by_id = {c["id"]: c for c in report["checks"]}
    message = by_id["q1.lora_bytes.numeric"]["message"]
    assert "\\x1b[2J" in message and "\\r" in message and "\\u202e" in message
    # every line of student text is indented under its check: none starts a report line
    for line in stdout.splitlines():
        if "100 / 100" in line:
            assert line.startswith("      "), line


def test_student_text_cannot_forge_the_written_export(tmp_path, unchanged_repo):
    md = written(tmp_path, HERE / "escape_injection.py")
    headings, html, links = markdown_structure(md)
    keys = written_keys()
    assert [text for level, text in headings if level <= 2] == \
        ["Written answers: " + str(HERE / "escape_injection.py"), *keys,
         "Other keys (not WRITTEN keys of the homework)"]
    assert [level for level, _ in headings].count(3) == 3  # the three stray keys, one heading each
    assert not html and not links
    assert "\\\\x1b\\[2J" in md and "forged section" in md  # shown, escaped for markdown


def test_a_file_name_built_to_forge_markdown(tmp_path, unchanged_repo):
    # (a file name holds no "/": the fake score uses U+2215, the division slash)
    name = "hw11 <!-- \n## HW11 autograder: 100 \u2215 100\n<img src=x onerror=alert(1)> [a](javascript:alert(1)) `.py"
    body = (HERE / "escape_injection.py").read_bytes()
    res, logs = gradescope(tmp_path, {name: body})
    headings, html, links = markdown_structure(res["output"])
    assert headings == [(2, f"HW11 autograder: 0 / {sum(t['max_score'] for t in res['tests']):g}")]
    assert not html and not links
    assert "| Q1 LoRA |" in res["output"]  # the real table is still shown
    for t in res["tests"]:
        assert_no_raw_control(t["output"], t["name"])
    path = tmp_path / "class" / name
    path.parent.mkdir()
    path.write_bytes(body)
    md = written(tmp_path, path, name="forged_name.md")
    headings, html, links = markdown_structure(md)
    assert [text for level, text in headings if level <= 2][1:] == [*written_keys(), "Other keys (not WRITTEN keys of the homework)"]
    assert headings[0][0] == 1 and "\\n" in headings[0][1]
    assert not html and not links
    report, stdout = attacker(tmp_path, path, "-q", "q1", name="forged_name.json")
    assert stdout.splitlines()[0].startswith("HW11 grader - ") and "\\n## HW11" in stdout.splitlines()[0]


def test_a_notebook_injecting_through_magics_and_markdown(tmp_path, unchanged_repo):
    fake = "\x1b[2J\x1b[HScore: 100 / 100.\r\u202e"
    path = tmp_path / "hw11.ipynb"
    path.write_bytes(notebook_bytes([
        ("code", f"%matplotlib {fake}\nx = 1"),
        ("code", f"%%bash {fake}\necho"),
        ("markdown", f"**WRITTEN q1b** {fake}\n## q1c\n<!-- hide the rest"),
        ("code", f"raise RuntimeError({fake!r})"),
    ]))
    report, stdout = attacker(tmp_path, path, "-q", "q1")
    assert any("\\x1b[2J" in w for w in report["warnings"])
    md = written(tmp_path, path)
    headings, html, links = markdown_structure(md)
    assert [text for level, text in headings if level <= 2][1:] == written_keys()
    assert not html and not links


def test_stats_show_student_messages_escaped(tmp_path, unchanged_repo):
    records, out, _ = batch(tmp_path, {
        "mallory/hw11.py": lambda p: p.write_bytes((HERE / "escape_injection.py").read_bytes()),
        "trudy.py": lambda p: p.write_bytes((HERE / "surrogate_strings.py").read_bytes()),
    })
    assert set(records) == {"mallory", "trudy"}
    code, stdout, stderr = run_grader("stats", out, "--out", tmp_path / "stats", timeout=GUARD)
    assert code == 0, stderr
    text = (tmp_path / "stats" / "stats.md").read_text(encoding="utf-8")
    assert_no_raw_control(text, "stats.md")
    assert_no_raw_control(stdout, "the stats output")
    headings, html, links = markdown_structure(text)
    assert all(level == 1 and t == "HW11 class statistics" or level == 2 or level == 3 and t.startswith("q")
               for level, t in headings), headings
    assert not html and not links
    rows = list(csv.reader((tmp_path / "stats" / "check_pass_rates.csv").read_text().splitlines()))
    assert rows[0][0] == "check" and len(rows) > 1


# ---------------------------------------------------------------- unit: the one escaping helper

def test_the_escaping_helper():
    from hw11grader.text import escape, escape_line, md_fence, md_inline, md_quote
    assert escape("a\x1b[2Jb\r\nc\rd\u202e\ud800\t\n") == "a\\x1b[2Jb\nc\\rd\\u202e\\ud800\t\n"
    assert escape_line("x\ny\tz") == "x\\ny\\tz"
    assert escape("x" * 30, limit=10) == "x" * 10 + " [... 20 more characters]"
    assert md_inline("a <!-- [l](u) | b \\ & c\n# h") == "a &lt;!-- \\[l\\](u) \\| b \\\\ &amp; c\\\\n# h"  # (the escape's backslash renders)
    assert md_quote("# h\n===\n  ---\n- item\n> q") == ["> \\# h", "> \\===", ">   \\---", "> - item", "> &gt; q"]
    fence = md_fence("a\n````\nb")
    assert fence.startswith("`````\n") and fence.endswith("\n`````")
