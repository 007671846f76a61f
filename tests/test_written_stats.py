"""`grader.py written` (answers for grading by hand) and `grader.py stats` (class statistics)."""
import json
import os

import nbformat

from conftest import ROOT, run_grader

ADVERSARIAL = ROOT / "tests" / "adversarial" / "submissions"


# ---------------------------------------------------------------- written

def notebook(tmp_path, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) if kind == "code" else nbformat.v4.new_markdown_cell(src)
                for kind, src in cells]
    path = tmp_path / "hw11.ipynb"
    nbformat.write(nb, path)
    return path


CELLS = [
    ("markdown", "**WRITTEN q1b** the markdown answer to q1b"),
    ("code", "import os\nWRITTEN = {'q1b': f'the dict answer from process {os.getpid()}', 'q1c': '   ',\n"
             "           'q7b_vii': 'dict q7b_vii', 'not_a_key': 'stray'}"),
    ("markdown", "**WRITTEN q1c**\nmarkdown q1c, line one\n\nline two"),
    ("markdown", "**WRITTEN q3a_ii** markdown q3a_ii"),
]


def test_the_dict_wins_and_is_read_in_a_child_process(tmp_path, content):
    from hw11grader.boundary import Limits
    from hw11grader.staff.written import collect
    answers, sources, notes = collect(notebook(tmp_path, CELLS), content, Limits())
    assert answers["q1b"].startswith("the dict answer from process ")
    assert int(answers["q1b"].rsplit(" ", 1)[1]) != os.getpid()  # the code ran in another process
    assert sources["q1b"] == "the WRITTEN dict"
    assert answers["q1c"] == "markdown q1c, line one\n\nline two"  # a blank dict value does not win
    assert sources["q1c"] == "a markdown cell"
    assert answers["q3a_ii"] == "markdown q3a_ii"
    assert answers["q7b_vii"] == "dict q7b_vii"


def test_written_lists_answers_in_homework_order_then_the_missing_keys(tmp_path, content):
    out = tmp_path / "written.md"
    code, stdout, stderr = run_grader("written", notebook(tmp_path, CELLS), "--out", out)
    assert code == 0, stderr
    md = out.read_text()
    headings = [line[3:] for line in md.splitlines() if line.startswith("## ")]
    assert headings[:len(content.written_keys)] == list(content.written_keys)
    assert headings[len(content.written_keys):] == ["Other keys (not WRITTEN keys of the homework)"]
    present = {"q1b", "q1c", "q3a_ii", "q7b_vii"}
    missing = [k for k in content.written_keys if k not in present]
    assert f"Missing ({len(missing)}): {', '.join(missing)}" in md
    section = md.split("## q1c", 1)[1].split("## ", 1)[0]
    assert "> markdown q1c, line one" in section and "> line two" in section
    assert "the markdown answer to q1b" not in md
    assert "stray" in md
    assert f"4 of {len(content.written_keys)}" in stdout


def test_written_on_a_file_that_does_not_load(tmp_path, content):
    out = tmp_path / "written.md"
    code, _, stderr = run_grader("written", ADVERSARIAL / "not_json.ipynb", "--out", out)
    assert code == 0, stderr
    md = out.read_text()
    assert "could not be read" in md
    assert f"Missing ({len(content.written_keys)})" in md


# ---------------------------------------------------------------- stats

def test_numbers_are_normalised_before_messages_are_counted():
    from hw11grader.staff.stats import normalise
    assert normalise("lora_grads(G, A, B) with m=3: got 1.5e-3, expected -2.25 (rtol 1e-06)") == \
        "lora_grads(G, A, B) with m=#: got #, expected # (rtol #)"
    assert normalise("W0 of shape 5x3 in q1, float64, got nan") == "W0 of shape 5x3 in q1, float64, got #"


def record(sid, score, statuses, messages=None):
    checks = [{"id": cid, "question": cid.split(".")[0], "score": 1.0 if st == "passed" else 0.0,
               "max_score": 1.0, "status": st, "visibility": "public", "message": (messages or {}).get(cid, "")}
              for cid, st in statuses.items()]
    return {"id": sid, "status": "ok", "score": score, "max_score": 10.0, "checks": checks}


def test_stats_pass_rates_histogram_and_common_failures(tmp_path):
    records = [
        record("a", 10.0, {"q1.x": "passed", "q1.y": "passed"}),
        record("b", 9.5, {"q1.x": "passed", "q1.y": "failed"}, {"q1.y": "f(3) returned 4.5, expected 6"}),
        record("c", 2.0, {"q1.x": "failed", "q1.y": "failed"},
               {"q1.x": "missing name", "q1.y": "f(7) returned 10.5, expected 14"}),
        record("d", 0.0, {"q1.x": "error", "q1.y": "timeout"}, {"q1.x": "raised", "q1.y": "slow"}),
        {"id": "e", "status": "grader_error", "score": 0.0, "max_score": None, "checks": [], "error": "boom"},
    ]
    grades = tmp_path / "grades.jsonl"
    grades.write_text("".join(json.dumps(r) + "\n" for r in records))
    code, stdout, stderr = run_grader("stats", grades, "--out", tmp_path / "out")
    assert code == 0, stderr
    assert "5 submissions: grader_error 1, ok 4" in stdout
    assert "| q1.x | 2/4 | 50% | error 1, failed 1 |" in stdout
    assert "| q1.y | 1/4 | 25% | failed 2, timeout 1 |" in stdout
    assert "- 2 x f(#) returned #, expected #" in stdout  # one mistake on two inputs counts once, twice
    hist = [line for line in stdout.splitlines() if line.startswith("[")]
    assert len(hist) == 10
    assert hist[0].endswith(" 1") and hist[2].endswith(" 1") and hist[-1].endswith(" 2")  # 0; 2; 9.5 and 10
    assert sum(int(line.rsplit(" ", 1)[1]) for line in hist) == 4
    out = tmp_path / "out"
    assert (out / "score_histogram.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "stats.md").read_text() == stdout.split("\nwritten to")[0]
    rates = (out / "check_pass_rates.csv").read_text().splitlines()
    assert rates[0].startswith("check,total,passed,pass_rate")
    assert rates[1].startswith("q1.x,4,2,0.5000")


def test_stats_default_folder_and_bad_input(tmp_path):
    grades = tmp_path / "g.jsonl"
    grades.write_text(json.dumps(record("a", 1.0, {"q1.x": "passed"})) + "\n")
    code, _, _ = run_grader("stats", grades)
    assert code == 0 and (tmp_path / "g_stats" / "stats.md").exists()
    grades.write_text("not json\n")
    code, _, stderr = run_grader("stats", grades)
    assert code == 2 and "line 1" in stderr


# ---------------------------------------------------------------- student text, escaped

def test_written_render_escapes_answers_keys_and_the_file_name(content):
    from markdown_it import MarkdownIt

    from hw11grader.staff.written import render
    keys = list(content.written_keys)
    answers = {keys[0]: "\x1b[31mfine\r\n## " + keys[1] + "\n===\n<!-- hide\n[a](javascript:x)",
               "x\n\n## " + keys[1]: "forged", "<!--": "y"}
    sources = {k: "the WRITTEN dict" for k in answers}
    md = render("hw11\n# forged.py", content, answers, sources, ["note\n## forged"])
    assert "\x1b" not in md and "\r" not in md
    tokens = MarkdownIt("commonmark").enable("table").parse(md)
    headings = [(t.tag, tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert [h for tag, h in headings if tag == "h2"] == [*keys, "Other keys (not WRITTEN keys of the homework)"]
    assert [tag for tag, _ in headings].count("h1") == 1 and [tag for tag, _ in headings].count("h3") == 2
    assert not any(t.type == "html_block" for t in tokens)
    assert not {"html_inline", "link_open"} & {c.type for t in tokens for c in (t.children or [])}


def test_stats_escape_messages_for_markdown(tmp_path):
    from hw11grader.staff.stats import render, summarise
    message = "\x1b[2J<!-- [x](javascript:y) | \u202e"
    summary = summarise([record("a", 0.0, {"q1.x": "failed"}, {"q1.x": message})])
    text = render(summary)
    assert "\x1b" not in text and "\u202e" not in text and "<!--" not in text
    assert "&lt;!--" in text and "\\|" in text
