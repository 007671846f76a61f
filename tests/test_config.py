"""The checks and checks/points.toml agree; question totals are the contract's."""
from hw11grader import load_content

CONTRACT_POINTS = {"q1": 15, "q3": 20, "q4": 20, "q5": 20, "q6": 10, "q7": 15}


def test_every_check_has_points_and_every_row_a_check():
    content = load_content()
    assert content.problems == ()


def test_question_totals_are_the_contracts():
    content = load_content()
    assert {q.id: q.points for q in content.questions} == CONTRACT_POINTS
    for q in content.questions:
        total = sum(e.points for e in content.entries if e.question == q.id)
        assert abs(total - q.points) < 1e-9, (q.id, total)
    assert sum(e.points for e in content.entries) == 100


def test_check_ids_name_their_question_and_are_unique():
    content = load_content()
    ids = [e.id for e in content.entries]
    assert len(ids) == len(set(ids))
    assert all(e.id.split(".")[0] == e.question for e in content.entries)
    assert all(e.spec.doc for e in content.entries), "every check says what it tests (docstring)"
