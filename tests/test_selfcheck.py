"""grader.check() inside the notebook, executed headlessly, agrees with the CLI."""
import json

import nbformat
import pytest

from conftest import ROOT, SUBMISSIONS, grade_json

nbclient = pytest.importorskip("nbclient")

CELL = 'import grader, json\nprint("SELF-CHECK " + json.dumps(grader.check_all().summary()))'


def run_notebook_selfcheck(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CELL))
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    for output in nb.cells[-1].get("outputs", []):
        if output.get("name") == "stdout" and "SELF-CHECK " in output.get("text", ""):
            return json.loads(output["text"].split("SELF-CHECK ", 1)[1])
    raise AssertionError(f"no self-check output: {nb.cells[-1].get('outputs')}")


@pytest.mark.parametrize("path", [SUBMISSIONS / "correct.ipynb", ROOT / "student_template" / "hw11.ipynb"],
                         ids=["correct", "blank"])
def test_notebook_self_check_matches_the_cli(tmp_path, path):
    inside = run_notebook_selfcheck(path, tmp_path)
    cli, _ = grade_json(tmp_path, path)  # student mode: public checks only
    assert inside["score"] == cli["score"]
    assert inside["questions"] == cli["questions"]
    assert inside["checks"] == {c["id"]: c["status"] for c in cli["checks"]}
    if path.parent == SUBMISSIONS:
        assert inside["score"] > 0 and all(s in ("passed", "skipped") for s in inside["checks"].values())
    else:
        assert inside["score"] == 0


def test_self_check_of_one_question_in_process():
    import runpy
    import grader
    ns = runpy.run_path(str(SUBMISSIONS / "correct.py"), run_name="__main__")
    from hw11grader.report.notebook import check_namespace
    result = check_namespace(ns, "q5")
    assert result.score == result.max_score > 0
    assert "<table>" in result._repr_html_() and "Q5" in repr(result)
    with pytest.raises(ValueError):
        check_namespace(ns, "q2")
