"""Batch grading: who is graded, shards, outputs, grader failures, and the CI merge."""
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SUBMISSIONS, run_grader

ADVERSARIAL = ROOT / "tests" / "adversarial" / "submissions"
MERGE = ROOT / "docs" / "ci" / "merge_shards.py"
# correct.py without some functions: a partial score on several questions, graded in seconds
PARTIAL = ('\n\nfor _name in ("linreg_grad", "sgd_update", "adam_update", "magnitude_prune", "LoRALinear"):\n'
           '    globals().pop(_name, None)\n')


# ---------------------------------------------------------------- who is graded

def test_students_are_subfolders_or_files_sorted_by_id(tmp_path):
    from hw11grader.staff.batch import students
    (tmp_path / "zoe" / "deep").mkdir(parents=True)
    (tmp_path / "zoe" / "deep" / "hw11 (3).ipynb").write_text("{}")
    (tmp_path / "amy.py").write_text("")
    (tmp_path / "bob").mkdir()  # nothing inside: still a student, with no submission
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / ".DS_Store").write_text("")
    (tmp_path / "__MACOSX").mkdir()
    got = students(tmp_path)
    assert [s.id for s in got] == ["amy", "bob", "zoe"]
    assert got[0].path == str(tmp_path / "amy.py")
    assert got[1].path is None and got[1].note
    assert got[2].path == str(tmp_path / "zoe" / "deep" / "hw11 (3).ipynb")


def test_two_entries_with_one_id_are_refused(tmp_path):
    from hw11grader.staff.batch import UsageError, students
    (tmp_path / "amy.py").write_text("")
    (tmp_path / "amy").mkdir()
    with pytest.raises(UsageError):
        students(tmp_path)


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_shards_are_disjoint_stable_and_cover_everyone(n):
    from hw11grader.staff.batch import in_shard
    ids = [f"student{i:03d}" for i in range(300)] + ["Ünïcode", "a b"]
    slices = [{s for s in ids if in_shard(s, (i, n))} for i in range(1, n + 1)]
    assert sum(len(s) for s in slices) == len(ids) and set().union(*slices) == set(ids)
    if n > 1:
        assert all(len(s) > 0 for s in slices)
    # stable: sha256 of the id, modulo N (the same on every machine, every Python)
    h = int.from_bytes(hashlib.sha256(b"student000").digest()[:8], "big")
    assert in_shard("student000", (h % n + 1, n))


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_bad_shards_are_usage_errors(tmp_path, text):
    code, _, stderr = run_grader("batch", tmp_path, "--out", tmp_path / "g.csv", "--shard", text)
    assert code == 2 and "--shard" in stderr


def test_an_unknown_output_kind_is_a_usage_error(tmp_path):
    code, _, stderr = run_grader("batch", tmp_path, "--out", tmp_path / "g.xlsx")
    assert code == 2 and ".csv or .jsonl" in stderr


# ---------------------------------------------------------------- a small class, end to end

@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    d = tmp_path_factory.mktemp("class")
    (d / "alice" / "nested").mkdir(parents=True)
    (d / "alice" / "nested" / "hw11-final.py").write_text((SUBMISSIONS / "correct.py").read_text() + PARTIAL)
    (d / "bob.py").write_text((ROOT / "student_template" / "hw11.py").read_text())
    (d / "carol.py").write_text((ADVERSARIAL / "syntax_error.py").read_text())
    (d / "dave").mkdir()
    (d / "eve.ipynb").write_text((ADVERSARIAL / "not_json.ipynb").read_text())
    return d


def batch(klass, out, *extra):
    code, stdout, stderr = run_grader("batch", klass, "--out", out, "--jobs", "2", *extra)
    return code, stdout, stderr


@pytest.fixture(scope="module")
def full_csv(klass, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "grades.csv"
    code, stdout, stderr = batch(klass, out, "--all")
    assert code == 0, stderr
    return out, stdout, stderr


@pytest.fixture(scope="module")
def full_jsonl(klass, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "grades.jsonl"
    code, _, stderr = batch(klass, out)
    assert code == 0, stderr
    return out


def rows(path):
    return list(csv.DictReader(io.StringIO(Path(path).read_text())))


def test_the_csv_has_one_row_per_student_with_scores_and_status(full_csv, content):
    out, stdout, stderr = full_csv
    lines = out.read_text().splitlines()
    assert lines[0] == ",".join(["id", "total", *[q.id for q in content.questions], "status"])
    got = {r["id"]: r for r in rows(out)}
    assert list(got) == ["alice", "bob", "carol", "dave", "eve"]
    assert {k: r["status"] for k, r in got.items()} == {
        "alice": "ok", "bob": "ok", "carol": "load_error", "dave": "no_submission", "eve": "load_error"}
    alice = got["alice"]
    total = float(alice["total"])
    assert 0 < total < sum(e.points for e in content.entries)
    assert total == pytest.approx(sum(float(alice[q.id]) for q in content.questions))
    assert float(alice["q3"]) == content.question("q3").points  # untouched questions keep full marks
    assert float(alice["q4"]) < content.question("q4").points
    for sid in ("bob", "carol", "dave", "eve"):
        assert float(got[sid]["total"]) == 0
    assert stdout == ""  # the progress bar and the summary go to stderr only
    assert "[5/5]" in stderr


def test_jsonl_holds_one_full_report_per_line_with_the_id(full_jsonl, full_csv):
    records = [json.loads(line) for line in full_jsonl.read_text().splitlines()]
    assert [r["id"] for r in records] == ["alice", "bob", "carol", "dave", "eve"]
    by_csv = {r["id"]: r for r in rows(full_csv[0])}
    for r in records:
        assert r["status"] == by_csv[r["id"]]["status"]
        assert f'{r["score"]:g}' == by_csv[r["id"]]["total"]
        if r["status"] != "no_submission":
            assert r["schema"] == 1 and r["mode"] == "all" and r["checks"]
            assert abs(r["score"] - sum(c["score"] for c in r["checks"])) < 1e-9
            assert "skipped" not in {c["status"] for c in r["checks"]}  # batch runs every check


def test_merged_shards_equal_one_unsharded_run(klass, full_csv, full_jsonl, tmp_path):
    shards = []
    for i in (1, 2):
        out = tmp_path / f"grades-{i}.csv"
        code, _, stderr = batch(klass, out, "--shard", f"{i}/2")
        assert code == 0, stderr
        shards.append(out)
    # only shard 1 writes the header; both shards hold students (5 ids split 2/3 by sha256)
    assert shards[0].read_text().startswith("id,") and not shards[1].read_text().startswith("id,")
    assert rows(shards[0]) and shards[1].read_text().strip()
    full = full_csv[0].read_text()
    # plain concatenation (shard 1 first) is the gradebook, up to row order ...
    concatenated = shards[0].read_text() + shards[1].read_text()
    assert sorted(concatenated.splitlines()[1:]) == sorted(full.splitlines()[1:])
    # ... and the CI merge script gives it exactly
    merged = tmp_path / "gradebook.csv"
    subprocess.run([sys.executable, str(MERGE), "--out", str(merged), *map(str, shards[::-1])], check=True)
    assert merged.read_text() == full
    # JSONL shards merge too, and their --csv gradebook equals batch's own CSV
    jshards = []
    for i in (1, 2):
        out = tmp_path / f"grades-{i}.jsonl"
        assert batch(klass, out, "--shard", f"{i}/2")[0] == 0
        jshards.append(out)
    merged_jsonl, book = tmp_path / "grades.jsonl", tmp_path / "book.csv"
    subprocess.run([sys.executable, str(MERGE), "--out", str(merged_jsonl), "--csv", str(book),
                    *map(str, jshards)], check=True)
    strip = lambda text: [{k: v for k, v in json.loads(l).items() if k != "duration_s"} for l in text.splitlines()]
    assert strip(merged_jsonl.read_text()) == strip(full_jsonl.read_text())
    assert book.read_text() == full


def test_the_merge_script_refuses_a_student_graded_twice(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("id,total,status\namy,1,ok\n")
    b = tmp_path / "b.csv"
    b.write_text("amy,2,ok\n")
    proc = subprocess.run([sys.executable, str(MERGE), "--out", str(tmp_path / "m.csv"), str(a), str(b)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "amy" in proc.stderr


def test_the_ci_workflow_runs_the_documented_commands():
    text = (ROOT / "docs" / "ci" / "grade-class.yml").read_text()
    shards = text.split("shard: [", 1)[1].split("]", 1)[0].split(",")
    assert f"SHARDS: {len(shards)}" in text
    assert "--shard ${{ matrix.shard }}/${{ env.SHARDS }}" in text
    assert "merge_shards.py" in text and "grader.py stats" in text


def test_stats_on_a_real_batch(full_jsonl, tmp_path):
    code, stdout, stderr = run_grader("stats", full_jsonl, "--out", tmp_path / "stats")
    assert code == 0, stderr
    assert "5 submissions" in stdout and "no_submission 1" in stdout
    assert (tmp_path / "stats" / "score_histogram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- grader failures do not stop the batch

def failing_worker(student, limits):
    """A stand-in grader: fails on bob, kills its own process on carol."""
    if student.id == "bob":
        raise RuntimeError("the grader broke on bob")
    if student.id == "carol":
        os._exit(3)
    return {"id": student.id, "status": "ok", "score": 1.0, "questions": {}, "checks": []}


def test_a_submission_that_breaks_the_grader_is_marked_and_the_batch_goes_on(klass, tmp_path, monkeypatch, capsys):
    from hw11grader.staff import batch as batch_module
    monkeypatch.setattr(batch_module, "grade_student", failing_worker)
    out = tmp_path / "grades.csv"
    code = batch_module.main([str(klass), "--out", str(out), "--jobs", "2"])
    assert code == 1
    got = {r["id"]: r["status"] for r in rows(out)}
    assert got == {"alice": "ok", "bob": "grader_error", "carol": "grader_error", "dave": "ok", "eve": "ok"}
    err = capsys.readouterr().err
    assert "GRADER ERROR on bob" in err and "the grader broke on bob" in err
    assert "GRADER ERROR on carol" in err and "died" in err


# ---------------------------------------------------------------- polling only with a core to spare

def polling_worker(student, limits):
    return {"id": student.id, "status": "ok", "score": float(limits.poll), "questions": {}, "checks": []}


@pytest.mark.parametrize("jobs,cores,polls", [(1, 2, True), (2, 2, False), (3, 2, False), (2, 4, True)])
def test_the_pipes_are_polled_only_when_a_core_is_left_over(jobs, cores, polls, monkeypatch):
    """Polling a pipe before sleeping buys latency with CPU: in a batch with a grading on every core,
    that CPU is another grading's, so the children and their graders sleep instead."""
    from hw11grader.boundary import Limits
    from hw11grader.staff import batch as batch_module
    monkeypatch.setattr(batch_module, "_cores", lambda: cores)
    records = batch_module.run_batch([batch_module.Student("a", "x.py")], Limits(), jobs=jobs,
                                     worker=polling_worker)
    assert [r["score"] for r in records] == [float(polls)]
