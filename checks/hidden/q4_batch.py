"""Hidden checks of q4_batch (run only at grading time; never in the student kit).

They share their helpers with the public checks in ``checks/q4_batch.py``.
"""
from hw11grader.authoring import check, expect
from hw11grader.authoring import Failed
from reference import q4_batch as ref

from ..q4_batch import LAW_OPTIONS, TITLES


def _law_answer(sub, key):
    got = sub.answer(key)
    name = ref.ANSWER_SWEEPS[key]
    expected = ref.answers()[key]
    measured = ref.reference_analysis(name)["exponent"]
    if isinstance(got, str) and got in LAW_OPTIONS and got != expected:
        raise Failed(f'ANSWERS["{key}"]: {got!r} is not what the grader\'s experiment measures '
                     f"({TITLES[name]}: the optimal learning rate grows like B**{measured:.2f}; the answer is "
                     "the nearest of linear (1), sqrt (0.5), constant (0), inverse (-1))")
    expect.choice(actual=got, expected=expected, options=LAW_OPTIONS, what=f'ANSWERS["{key}"]')


@check("q4.answers.q4a_law", answers="q4a_law")
def answer_q4a_law(sub):
    """Linear regression + SGD: the law nearest to the measured exponent of the optimal learning rate."""
    _law_answer(sub, "q4a_law")


@check("q4.answers.q4b_law", answers="q4b_law")
def answer_q4b_law(sub):
    """MLP + SGD: the law nearest to the measured exponent of the optimal learning rate."""
    _law_answer(sub, "q4b_law")


@check("q4.answers.q4c_law", answers="q4c_law")
def answer_q4c_law(sub):
    """Adam (the MLP sweep, as part (b)): the law nearest to the measured exponent."""
    _law_answer(sub, "q4c_law")
