"""Reading notebooks: magics skipped, skip-grading cells, WRITTEN cells, bad files."""
import nbformat
import pytest

from hw11grader.loading import LoadError, discover, load, strip_magics


def test_magics_and_shell_escapes_are_blanked_keeping_line_numbers():
    src = "%matplotlib inline\nx = 1\n!pip install foo\nfiles = !ls\ny = x != 2\n  %time f()\n"
    code, skipped = strip_magics(src)
    assert [n for n, _ in skipped] == [1, 3, 4, 6]
    assert code.count("\n") == src.count("\n")
    assert "y = x != 2" in code


def test_bang_and_percent_inside_strings_and_brackets_are_python():
    src = 'a = """\n!not a shell line\n"""\nb = (1,\n  %2)\nc = "%d" % 3\\\n  % 1\n'
    code, skipped = strip_magics(src)
    assert skipped == [] and code == src


def make_notebook(tmp_path, cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    path = tmp_path / "hw11.ipynb"
    nbformat.write(nb, path)
    return path


def test_notebook_cells_are_named_by_number_and_skips_are_warnings(tmp_path):
    path = make_notebook(tmp_path, [
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("%%bash\necho hi"),
        nbformat.v4.new_code_cell("long_experiment()", metadata={"tags": ["skip-grading"]}),
        nbformat.v4.new_markdown_cell("**WRITTEN q1b** Because the gradients\nare zero."),
    ])
    sub = load(path)
    assert [c.name for c in sub.cells] == ["cell 2"]
    assert sub.cells[0].filename == "<cell 2>"
    assert len(sub.warnings) == 2 and "cell 3" in sub.warnings[0] and "skip-grading" in sub.warnings[1]
    assert sub.written_cells == {"q1b": "Because the gradients\nare zero."}


@pytest.mark.parametrize("data", [b"{not json", b'{"cells": 5}', b"\xff\xfe"])
def test_a_file_that_is_not_a_notebook_is_a_load_error(tmp_path, data):
    path = tmp_path / "hw11.ipynb"
    path.write_bytes(data)
    with pytest.raises(LoadError, match="not a valid notebook"):
        load(path)


def test_discovery_prefers_the_notebook_then_the_module(tmp_path):
    (tmp_path / "hw11.py").write_text("")
    assert discover(None, cwd=tmp_path).name == "hw11.py"
    (tmp_path / "hw11.ipynb").write_text("{}")
    assert discover(None, cwd=tmp_path).name == "hw11.ipynb"
    assert discover(str(tmp_path)).name == "hw11.ipynb"
    with pytest.raises(LoadError):
        discover(str(tmp_path / "absent.py"))


def test_discovery_looks_only_where_it_is_told(tmp_path):
    # nothing is searched beyond the folder and its student_template/ (not the grader's own folder)
    with pytest.raises(LoadError, match="no hw11.ipynb or hw11.py found in") as e:
        discover(None, cwd=tmp_path)
    assert str(tmp_path) in str(e.value)


# ---------------------------------------------------------------- the submission read as data

def test_a_symlinked_fifo_or_oversized_submission_is_refused_before_reading(tmp_path):
    import os

    from hw11grader import loading
    secret = tmp_path / "secret.py"
    secret.write_text("SECRET = 1\n")
    (tmp_path / "hw11.py").symlink_to(secret)
    with pytest.raises(LoadError, match="symbolic link") as e:
        load(tmp_path / "hw11.py")
    assert "SECRET" not in str(e.value)
    assert discover(str(tmp_path)).name == "hw11.py"  # only a link: found, then refused with a report
    os.mkfifo(tmp_path / "fifo.py")
    with pytest.raises(LoadError, match="not a regular file"):
        load(tmp_path / "fifo.py")
    big = tmp_path / "big.ipynb"
    with open(big, "wb") as f:
        f.truncate(loading.MAX_FILE_BYTES + 1)
    with pytest.raises(LoadError, match="too large to grade"):
        load(big)


def test_notebook_cells_and_warnings_are_bounded(tmp_path):
    from hw11grader import loading
    path = tmp_path / "hw11.ipynb"
    path.write_text('{"nbformat": 4, "metadata": {}, "cells": ['
                    + ",".join(['{"cell_type": "raw", "source": ""}'] * (loading.MAX_CELLS + 1)) + "]}")
    with pytest.raises(LoadError, match="too many cells"):
        load(path)
    path.write_text("[" * (loading.MAX_JSON_PARTS + 1))
    with pytest.raises(LoadError, match="too complex"):
        load(path)
    make_notebook(tmp_path, [nbformat.v4.new_code_cell("%ls\n" * 100 + "x = 1")])
    sub = load(path)
    assert len(sub.warnings) == loading.MAX_WARNINGS + 1 and "80 more warnings" in sub.warnings[-1]
    assert sub.cells[0].source.endswith("x = 1")


def test_an_old_notebook_format_is_converted(tmp_path):
    import json
    path = tmp_path / "hw11.ipynb"
    path.write_text(json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "code", "input": "x = 1", "language": "python", "outputs": [{}] * 3},
        {"cell_type": "markdown", "source": "**WRITTEN q1b** because"}]}]}))
    sub = load(path)
    assert [c.source for c in sub.cells] == ["x = 1"] and sub.written_cells == {"q1b": "because"}
