"""Q5 Chinchilla scaling and the cost of scale.

The Fermi-estimate functions are checked by one table: each row names the
function, how to draw its required arguments, its optional arguments with
other values than the defaults (to catch constants typed in), and the hint
for its commonest mistake.
"""
import math
from dataclasses import dataclass, field

from hw11grader.authoring import check, expect, given, st
from hw11grader.authoring import Failed
from reference import q5_chinchilla as ref

from ._common import call_with_symbols, log_uniform


def warm_up():
    """The sympy derivation of N_opt and D_opt, its numeric form, the answer key and the
    swapped-exponents mistake (its exponents and prefactors), computed while the submission's
    process starts (``runner._while_loading``)."""
    ref.answers()
    ref.chinchilla_optimal(1e21, **ref.HOMEWORK)
    ref.chinchilla_optimal_swapped_exponents(1e21, **ref.HOMEWORK)


HW = ref.HOMEWORK
CHINCHILLA_RANGES = {"C": (1e18, 1e26), "A": (50.0, 1000.0), "B": (50.0, 1000.0),
                     "alpha": (0.1, 0.9), "beta": (0.1, 0.9), "C0": (1.0, 10.0)}
FERMI_RTOL = 0.02


def _optimal_mistakes(args):
    N, D = ref.chinchilla_optimal_swapped_exponents(*args)
    return N, D


@check("q5.chinchilla_optimal.numeric", uses="chinchilla_optimal")
@given(C=log_uniform(1e18, 1e26), A=st.floats(50, 1000), B=st.floats(50, 1000),
       alpha=st.floats(0.1, 0.9), beta=st.floats(0.1, 0.9), C0=st.sampled_from([6.0, 2.0, 8.0]))
def chinchilla_optimal_numeric(sub, C, A, B, alpha, beta, C0):
    """N_opt and D_opt minimise L(N, D) under C = C0 N D, for drawn constants."""
    args = (C, A, B, alpha, beta, C0)
    out = expect.parts(sub.chinchilla_optimal(*args), 2, what="chinchilla_optimal(...) should return (N_opt, D_opt) and")
    eN, eD = ref.chinchilla_optimal(*args)
    wN, wD = _optimal_mistakes(args)
    where = f"chinchilla_optimal(C={expect.g(C)}, A={expect.g(A)}, B={expect.g(B)}, alpha={expect.g(alpha)}, beta={expect.g(beta)}, C0={expect.g(C0)})"
    hint = "alpha and beta look swapped in the exponents: N_opt grows like C**(beta/(alpha+beta))."
    expect.close(actual=out[0], expected=eN, what="N_opt", where=where, mistakes={hint: wN})
    expect.close(actual=out[1], expected=eD, what="D_opt", where=where, mistakes={hint: wD})


@check("q5.chinchilla_optimal.homework_constants", uses="chinchilla_optimal")
def chinchilla_optimal_homework(sub):
    """With the homework's fit, N_opt ~ 0.599 C**0.4516 and D_opt ~ 0.278 C**0.5484."""
    for C in (1e21, 1e24):
        args = (C, HW["A"], HW["B"], HW["alpha"], HW["beta"], HW["C0"])
        out = expect.parts(sub.chinchilla_optimal(*args), 2, what="chinchilla_optimal(...) should return (N_opt, D_opt) and")
        eN, eD = ref.chinchilla_optimal(*args)
        where = f"chinchilla_optimal(C={C:g}, A=406.4, B=410.7, alpha=0.34, beta=0.28, C0=6)"
        expect.close(actual=out[0], expected=eN, what="N_opt", where=where)
        expect.close(actual=out[1], expected=eD, what="D_opt", where=where)


@check("q5.chinchilla_optimal.symbolic", uses="chinchilla_optimal")
def chinchilla_optimal_symbolic(sub):
    """Called with sympy symbols, it returns the derived N_opt(C) and D_opt(C)."""
    out = call_with_symbols(sub, "chinchilla_optimal", "C", "A", "B", "alpha", "beta", "C0",
                            shown="chinchilla_optimal(C=C, A=A, B=B, alpha=alpha, beta=beta, C0=C0) with sympy symbols")
    N, D = expect.parts(out, 2, what="chinchilla_optimal(C, A, B, alpha, beta, C0) should return (N_opt, D_opt) and")
    eN, eD = ref.derive_optimal()
    expect.symbolic_equal(actual=N, expected=eN, symbols=CHINCHILLA_RANGES, key="q5.symbolic.N",
                          what="N_opt with symbols")
    expect.symbolic_equal(actual=D, expected=eD, symbols=CHINCHILLA_RANGES, key="q5.symbolic.D",
                          what="D_opt with symbols")


# ---------------------------------------------------------------- Fermi functions

@dataclass(frozen=True)
class Fermi:
    name: str
    required: dict  # argument -> strategy
    optional: dict = field(default_factory=dict)  # argument -> a non-default value
    mistake: tuple = ()  # (hint, reference function of the mistake)
    integer: bool = False


FERMI = [
    Fermi("compute_for_params", {"N": log_uniform(1e8, 1e15)}, {"a": 0.3, "e": 0.6}),
    Fermi("tokens_for_compute", {"C": log_uniform(1e18, 1e30)}, {"b": 2.5, "e": 0.45}),
    Fermi("tokens_to_books", {"tokens": log_uniform(1e9, 1e16)},
          {"tokens_per_word": 1.3, "words_per_page": 350, "pages_per_book": 250},
          ("divide by pages_per_book too: tokens -> words -> pages -> books.", ref.tokens_to_books_no_pages)),
    Fermi("param_bytes", {"n_params": log_uniform(1e6, 1e15)}, {"bytes_per_param": 4}),
    Fermi("storage_cost_per_year", {"n_params": log_uniform(1e8, 1e15), "dollars_per_mb": log_uniform(1e-6, 1e-2)},
          {"bytes_per_param": 4}),
    Fermi("seconds_per_token", {"n_params": log_uniform(1e8, 1e15)}, {"bandwidth": 2e12, "bytes_per_param": 1},
          ("use bytes_per_param (2 by default), not 4 bytes per parameter.", ref.seconds_per_token_4_bytes)),
    Fermi("petaflop_days", {"flops": log_uniform(1e18, 1e30)}),
    Fermi("training_cost", {"flops": log_uniform(1e18, 5e29)}, {"gpu_flops": 1e15, "dollars_per_gpu_hour": 2.5},
          ("the price is per GPU-hour: convert GPU-seconds to hours.", ref.training_cost_per_second)),
    Fermi("training_days", {"flops": log_uniform(1e20, 1e30), "n_gpus": st.integers(1, 10**8)}, {"gpu_flops": 1e15}),
    Fermi("inference_cost", {"n_params": log_uniform(1e8, 1e13), "n_tokens": log_uniform(1e3, 1e9)},
          {"gpu_flops": 1e15, "dollars_per_gpu_hour": 2.5},
          ("a forward pass costs 2 FLOPs per parameter per token.", ref.inference_cost_1_flop)),
    Fermi("tokens_to_recoup", {"dollars": log_uniform(1e3, 1e10)}, {"dollars_per_million_tokens": 60}),
    Fermi("landauer_power", {"flops_per_s": log_uniform(1e12, 1e18)}, {"bits_per_flop": 16, "joules_per_bit": 2e-21}),
    Fermi("carbon_cost", {"t_co2": log_uniform(1, 1e6)}, {"dollars_per_t": 80}),
    Fermi("burgers", {"t_co2": log_uniform(1, 1e6)}, {"kg_co2_per_kg_beef": 60, "kg_beef_per_burger": 0.15}),
]


def _gpu_case(q, gpu_bytes, bpp):
    """n_params giving a quotient q (never a whole number: no rounding ties)."""
    return q * gpu_bytes / bpp


@check("q5.gpus_to_store.rounds_up", uses="gpus_to_store")
@given(whole=st.integers(0, 500), frac=st.integers(5, 95))
def gpus_to_store_rounds_up(sub, whole, frac):
    """Whole GPUs: the quotient rounded up, as an integer (defaults and other sizes)."""
    q = whole + frac / 100
    n = _gpu_case(q, 100e9, 2)
    got = sub.gpus_to_store(n)
    hint = " Hint: round UP (a part of a GPU is a whole GPU): math.ceil." if _num(got) == math.floor(q) or _num(got) == q else ""
    try:
        expect.integer(actual=got, expected=ref.gpus_to_store(n), what=f"gpus_to_store(n_params={expect.g(n)})")
    except Failed as e:
        raise Failed(e.message + hint) from None
    n = _gpu_case(q, 40e9, 4)
    expect.integer(actual=sub.gpus_to_store(n, gpu_bytes=40e9, bytes_per_param=4),
                   expected=ref.gpus_to_store(n, gpu_bytes=40e9, bytes_per_param=4),
                   what=f"gpus_to_store(n_params={expect.g(n)}, gpu_bytes=4e10, bytes_per_param=4)")


def _num(v):
    try:
        arr = expect.as_array(v, what="")[0]
        return float(arr.reshape(-1)[0]) if arr.size == 1 else None
    except Failed:
        return None


def _fermi_test(row: Fermi):
    """The Hypothesis test of one row of FERMI (the check of that row runs it).

    Keep ``fermi`` below byte for byte as it is (decorator, indentation and all):
    Hypothesis, derandomized, seeds a test from a digest of its source and
    signature, so any edit to it changes the inputs every Fermi check draws.
    """
    @given(**row.required)
    def fermi(sub, **drawn):
        reference = getattr(ref, row.name)
        args = list(drawn.values())
        shown = [f"{k}={expect.g(v)}" for k, v in drawn.items()]
        call = f"{row.name}({', '.join(shown)})"
        mistakes = {row.mistake[0]: row.mistake[1](*args)} if row.mistake else None
        expect.close(actual=sub.call(row.name, *args), expected=reference(*args), what=call, mistakes=mistakes)
        if row.optional:
            call = f"{row.name}({', '.join(shown + [f'{k}={v}' for k, v in row.optional.items()])})"
            mistakes = {row.mistake[0]: row.mistake[1](*args, **row.optional)} if row.mistake else None
            expect.close(actual=sub.call(row.name, *args, **row.optional), expected=reference(*args, **row.optional),
                         what=call, mistakes=mistakes)

    fermi.__name__ = fermi.__qualname__ = f"{row.name}_matches_reference"
    return fermi


FERMI_TESTS = {row.name: _fermi_test(row) for row in FERMI}


def _fermi_check(name):
    """Decorator of the check of FERMI row ``name``: the engine finds the row's Hypothesis test as
    ``.hypothesis`` of the check (for its shrink cap, and ``--explain`` shows that test's code)."""
    def mark(fn):
        fn.hypothesis = FERMI_TESTS[name].hypothesis
        return fn

    return mark


def _fermi(sub, name):
    FERMI_TESTS[name](sub)


# One check per row of FERMI, in the table's order.

@check("q5.compute_for_params.matches_reference", uses="compute_for_params")
@_fermi_check("compute_for_params")
def compute_for_params_matches_reference(sub):
    """compute_for_params over drawn inputs, with its defaults and with other values."""
    _fermi(sub, "compute_for_params")


@check("q5.tokens_for_compute.matches_reference", uses="tokens_for_compute")
@_fermi_check("tokens_for_compute")
def tokens_for_compute_matches_reference(sub):
    """tokens_for_compute over drawn inputs, with its defaults and with other values."""
    _fermi(sub, "tokens_for_compute")


@check("q5.tokens_to_books.matches_reference", uses="tokens_to_books")
@_fermi_check("tokens_to_books")
def tokens_to_books_matches_reference(sub):
    """tokens_to_books over drawn inputs, with its defaults and with other values."""
    _fermi(sub, "tokens_to_books")


@check("q5.param_bytes.matches_reference", uses="param_bytes")
@_fermi_check("param_bytes")
def param_bytes_matches_reference(sub):
    """param_bytes over drawn inputs, with its defaults and with other values."""
    _fermi(sub, "param_bytes")


@check("q5.storage_cost_per_year.matches_reference", uses="storage_cost_per_year")
@_fermi_check("storage_cost_per_year")
def storage_cost_per_year_matches_reference(sub):
    """storage_cost_per_year over drawn inputs, with its defaults and with other values."""
    _fermi(sub, "storage_cost_per_year")


@check("q5.seconds_per_token.matches_reference", uses="seconds_per_token")
@_fermi_check("seconds_per_token")
def seconds_per_token_matches_reference(sub):
    """seconds_per_token over drawn inputs, with its defaults and with other values."""
    _fermi(sub, "seconds_per_token")


@check("q5.petaflop_days.matches_reference", uses="petaflop_days")
@_fermi_check("petaflop_days")
def petaflop_days_matches_reference(sub):
    """petaflop_days over drawn inputs, with its defaults and with other values."""
    _fermi(sub, "petaflop_days")


@check("q5.training_cost.matches_reference", uses="training_cost")
@_fermi_check("training_cost")
def training_cost_matches_reference(sub):
    """training_cost over drawn inputs, with its defaults and with other values."""
    _fermi(sub, "training_cost")


@check("q5.training_days.matches_reference", uses="training_days")
@_fermi_check("training_days")
def training_days_matches_reference(sub):
    """training_days over drawn inputs, with its defaults and with other values."""
    _fermi(sub, "training_days")


@check("q5.inference_cost.matches_reference", uses="inference_cost")
@_fermi_check("inference_cost")
def inference_cost_matches_reference(sub):
    """inference_cost over drawn inputs, with its defaults and with other values."""
    _fermi(sub, "inference_cost")


@check("q5.tokens_to_recoup.matches_reference", uses="tokens_to_recoup")
@_fermi_check("tokens_to_recoup")
def tokens_to_recoup_matches_reference(sub):
    """tokens_to_recoup over drawn inputs, with its defaults and with other values."""
    _fermi(sub, "tokens_to_recoup")


@check("q5.landauer_power.matches_reference", uses="landauer_power")
@_fermi_check("landauer_power")
def landauer_power_matches_reference(sub):
    """landauer_power over drawn inputs, with its defaults and with other values."""
    _fermi(sub, "landauer_power")


@check("q5.carbon_cost.matches_reference", uses="carbon_cost")
@_fermi_check("carbon_cost")
def carbon_cost_matches_reference(sub):
    """carbon_cost over drawn inputs, with its defaults and with other values."""
    _fermi(sub, "carbon_cost")


@check("q5.burgers.matches_reference", uses="burgers")
@_fermi_check("burgers")
def burgers_matches_reference(sub):
    """burgers over drawn inputs, with its defaults and with other values."""
    _fermi(sub, "burgers")


# ---------------------------------------------------------------- ANSWERS

@check("q5.answers.q5b_N_opt", answers="q5b_N_opt")
def answer_q5b_N_opt(sub):
    """N_opt(C) as a formula in C, A, B, alpha, beta, C0."""
    expect.symbolic_equal(actual=sub.answer("q5b_N_opt"), expected=ref.derive_optimal()[0],
                          symbols=CHINCHILLA_RANGES, key="q5b_N_opt", what='ANSWERS["q5b_N_opt"]')


@check("q5.answers.q5b_D_opt", answers="q5b_D_opt")
def answer_q5b_D_opt(sub):
    """D_opt(C) as a formula in C, A, B, alpha, beta, C0."""
    expect.symbolic_equal(actual=sub.answer("q5b_D_opt"), expected=ref.derive_optimal()[1],
                          symbols=CHINCHILLA_RANGES, key="q5b_D_opt", what='ANSWERS["q5b_D_opt"]')


def _number(value, key):
    if isinstance(value, str):
        try:
            return float(value.strip().replace("_", ""))
        except ValueError:
            raise Failed(f'ANSWERS["{key}"] = {value!r} is not a number (write e.g. 1e30 or "1e30")') from None
    return value


def answer_number(sub, key):
    """``ANSWERS[key]`` against the homework's number, within FERMI_RTOL."""
    actual = _number(sub.answer(key), key)  # (first: an unanswered key costs no derivation)
    expect.close(actual=actual, expected=ref.answers()[key], rtol=FERMI_RTOL, what=f'ANSWERS["{key}"]')


@check("q5.answers.q5c_C", answers="q5c_C")
def answer_q5c_C(sub):
    """The compute for N = 1e14 with the fitted law, within 2 %."""
    answer_number(sub, "q5c_C")


@check("q5.answers.q5c_D", answers="q5c_D")
def answer_q5c_D(sub):
    """The tokens for that compute with the fitted law, within 2 %."""
    answer_number(sub, "q5c_D")
