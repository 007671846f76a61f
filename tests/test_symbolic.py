"""The safe reader of symbolic answers, and the deterministic verdict."""
import pytest
import sympy

from hw11grader.judge import symbolic
from hw11grader.judge.compare import symbolic_equal
from hw11grader.outcomes import Failed

M, L, K = sympy.symbols("m l k", positive=True)
RANGES = {"m": (1, 100), "l": (1, 100), "k": (1, 10)}


@pytest.mark.parametrize("text", [
    "k*(m + l)/(m*l)", "k/l + k/m", "(k*m + k*l)/(l*m)", "k*(1/m + 1/l)", "exp(log(k)) * (m + l) / (m*l)",
])
def test_equivalent_forms_are_accepted(text):
    symbolic_equal(actual=text, expected=K * (M + L) / (M * L), symbols=RANGES, key="t", what="x")


@pytest.mark.parametrize("text", ["k*(m + l)", "m*l/(k*(m + l))", "k/(m + l)", "1"])
def test_wrong_forms_are_refused_with_the_point_shown(text):
    with pytest.raises(Failed, match="not equivalent"):
        symbolic_equal(actual=text, expected=K * (M + L) / (M * L), symbols=RANGES, key="t", what="x")


@pytest.mark.parametrize("text, reason", [
    ("__import__('os').system('echo pwned')", "only the functions"),
    ("m.__class__", "Attribute"),
    ("(lambda: 1)()", "only the functions"),
    ("lambda x: x", "Lambda"),
    ("m**2**100", "exponents"),
    ("2**(10**10)", "exponents"),
    ("9**9**9**9", "exponents"),
    ("x + 1", "unknown name"),
    ("m ^ 2", "\\*\\*"),
    ("'text'", "only numbers"),
    ("m if k else l", "not allowed"),
    ("[m for m in range(9)]", "not allowed"),
    ("(" * 60 + "m" + ")" * 60, "nests"),
    ("m" + "+m" * 300, "longer than"),
    ("sqrt(m, k)", "takes"),
    ("2m", "not a valid expression"),
])
def test_code_and_denial_of_service_are_rejected_unevaluated(text, reason):
    with pytest.raises(symbolic.Rejected, match=reason):
        symbolic.parse(text, RANGES)


def test_rejection_reaches_the_student_as_a_failure_not_an_error():
    with pytest.raises(Failed, match="was not read.*not evaluated"):
        symbolic_equal(actual="__import__('os')", expected=M, symbols=RANGES, key="t", what="x")


def test_verdict_is_deterministic_and_points_are_in_range():
    pts1 = symbolic.sample_points({"a": (1e18, 1e26), "b": (0.1, 0.9)}, "key")
    pts2 = symbolic.sample_points({"a": (1e18, 1e26), "b": (0.1, 0.9)}, "key")
    assert pts1 == pts2 and len(pts1) == 32
    assert all(1e18 <= p["a"] <= 1e26 and 0.1 <= p["b"] <= 0.9 for p in pts1)


def test_sympy_constants_are_plain_symbols_here():
    E, S, N = sympy.symbols("E S N", positive=True)
    symbolic_equal(actual="5*E", expected=5 * E, symbols={"E": (1, 1e4)}, key="t", what="x")
    symbolic_equal(actual="S*N", expected=S * N, symbols={"S": (1, 9), "N": (1, 9)}, key="t", what="x")
