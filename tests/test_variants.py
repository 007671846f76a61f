"""Equivalent correct forms keep full marks (issue 3).

Each file in tests/submissions/variants/ rewrites some functions of the
correct submission in another correct way (numpy arrays, nested lists,
float32, einsum, loops, tuples, ranges, numpy ints); its header names the
questions that must still score full marks.
"""
import re

import pytest

from conftest import SUBMISSIONS, grade_json, with_override

VARIANTS = sorted((SUBMISSIONS / "variants").glob("variant_*.py"))


@pytest.mark.parametrize("path", VARIANTS, ids=lambda p: p.stem)
def test_equivalent_forms_keep_full_marks(tmp_path, path):
    questions = re.search(r"^# full-marks: (.+)$", path.read_text(), re.M).group(1).split()
    report, _ = grade_json(tmp_path, with_override(tmp_path, path), "--all", "-q", *questions)
    lost = [(c["id"], c["status"], c["message"][:300]) for c in report["checks"] if c["status"] != "passed"]
    assert lost == []
