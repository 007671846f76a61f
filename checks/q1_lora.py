"""Q1 LoRA: W = W0 + A @ B, A: m x k, B: k x l."""
import numpy as np

from hw11grader.authoring import Generator, check, expect, given, st
from hw11grader.authoring import Failed
from reference import q1_lora as ref

from ._common import call_with_symbols, described, dims, matrices, seeds


# The answer key's derived ratio (sympy), derived while the submission's process starts
# (runner._while_loading)
warm_up = ref.answers


MEMORY_RANGES = {"m": (1.0, 1e4), "l": (1.0, 1e4), "k": (1.0, 1e3)}
BOTH_ZERO = ("both A and B are zero, so dL/dA = G @ B.T = 0 and dL/dB = A.T @ G = 0: "
             "gradient descent never moves them and W stays W0 forever (part b). "
             "Make one factor random and the other zero.")
PRODUCT_NOT_ZERO = ("A @ B is not zero, so fine-tuning would start away from the pretrained W0 "
                    "and damage it (part c). Start with one factor exactly zero.")


def _init(sub, m, k, l, seed):
    out = sub.lora_init(m, k, l, generator=Generator(seed))
    A, B = expect.parts(out, 2, what=f"lora_init(m={m}, k={k}, l={l}) should return (A, B) and")
    A, _ = expect.as_array(A, what="A")
    B, _ = expect.as_array(B, what="B")
    if A.shape != (m, k) or B.shape != (k, l):
        raise Failed(f"lora_init(m={m}, k={k}, l={l}): A has shape {A.shape} and B {B.shape}; "
                     f"expected A {(m, k)} and B {(k, l)}")
    return A, B


@check("q1.lora_init.product_is_zero", uses="lora_init")
@given(m=dims(2, 7), k=dims(1, 4), l=dims(2, 7), seed=seeds())
def lora_init_product_is_zero(sub, m, k, l, seed):
    """A @ B is exactly zero at initialisation, so the layer starts at W0.

    Part (c): initialising both factors randomly (e.g. Xavier) makes A @ B a
    sizeable random matrix, so fine-tuning starts away from the pretrained W0
    and damages it. One factor must start exactly at zero.
    """
    A, B = _init(sub, m, k, l, seed)
    if not np.all(A @ B == 0):
        raise Failed(f"lora_init(m={m}, k={k}, l={l}): {PRODUCT_NOT_ZERO} "
                     f"(largest |A @ B| entry: {expect.g(np.max(np.abs(A @ B)))})")


@check("q1.lora_init.gradient_reaches_a_factor", uses="lora_init")
@given(m=dims(2, 7), k=dims(1, 4), l=dims(2, 7), seed=seeds())
def lora_init_gradient_reaches_a_factor(sub, m, k, l, seed):
    """At the first step the gradient of at least one factor is non-zero.

    Part (b): with A = B = 0, dL/dA = G @ B.T and dL/dB = A.T @ G are both zero,
    so gradient descent never moves them and W stays W0. With one factor random
    and the other zero, the zero factor gets a non-zero gradient at once.
    """
    A, B = _init(sub, m, k, l, seed)
    (G,) = matrices(seed, (m, l))
    # the contract's gradients of the submission's own factors (a measurement of its values, not an answer)
    dA, dB = G @ B.T, A.T @ G
    if not (np.any(dA != 0) or np.any(dB != 0)):
        hint = BOTH_ZERO if not (A.any() or B.any()) else (
            "both gradients G @ B.T and A.T @ G are zero for a random G, so training cannot start.")
        raise Failed(f"lora_init(m={m}, k={k}, l={l}): {hint}")


def _grads_case(sub, m, k, l, seed):
    G, A, B = matrices(seed, (m, l), (m, k), (k, l))
    out = sub.lora_grads(G, A, B)
    dA, dB = expect.parts(out, 2, what="lora_grads(G, A, B) should return (dA, dB) and")
    where = f"lora_grads(G, A, B) with m={m}, k={k}, l={l} ({described(G=G, A=A, B=B)})"
    eA, eB = ref.lora_grads(G, A, B)
    expect.close(actual=dA, expected=eA, what="dA = dL/dA", where=where,
                 mistakes={"dA should be G @ B.T (m x k); this looks like (A.T @ G).T or a swapped pair.":
                           (A.T @ G).T if (A.T @ G).T.shape == eA.shape else None})
    expect.close(actual=dB, expected=eB, what="dB = dL/dB", where=where,
                 mistakes={"dB should be A.T @ G (k x l); this looks like (G @ B.T).T.":
                           (G @ B.T).T if (G @ B.T).T.shape == eB.shape else None})


@check("q1.lora_grads.matches_reference", uses="lora_grads")
@given(m=dims(1, 6), k=dims(1, 4), l=dims(1, 6), seed=seeds())
def lora_grads_matches_reference(sub, m, k, l, seed):
    """dA = G @ B.T and dB = A.T @ G (the chain rule through W = W0 + A @ B), any shapes.

    Part (b): W = W0 + A @ B is linear in each factor, so dL/dA = G @ B.T and
    dL/dB = A.T @ G with G = dL/dW; the transposes are fixed by the shapes
    (A is m x k, B is k x l), which is why non-square shapes are drawn.
    """
    _grads_case(sub, m, k, l, seed)


def _memory_numeric(sub, name, args, expected, where):
    expect.close(actual=sub.call(name, *args), expected=expected, what=f"{name}{where}")


@check("q1.lora_bytes.numeric", uses="lora_bytes")
@given(m=st.integers(1, 100_000), l=st.integers(1, 100_000), k=st.integers(1, 512), bpp=st.sampled_from([1, 2, 8]))
def lora_bytes_numeric(sub, m, l, k, bpp):
    """bytes_per_param * k * (m + l), with the default of 4 bytes and with others."""
    expect.close(actual=sub.lora_bytes(m, l, k), expected=ref.lora_bytes(m, l, k),
                 what=f"lora_bytes({m}, {l}, {k})")
    expect.close(actual=sub.lora_bytes(m, l, k, bytes_per_param=bpp), expected=ref.lora_bytes(m, l, k, bpp),
                 what=f"lora_bytes({m}, {l}, {k}, bytes_per_param={bpp})")


@check("q1.full_update_bytes.numeric", uses="full_update_bytes")
@given(m=st.integers(1, 100_000), l=st.integers(1, 100_000), bpp=st.sampled_from([1, 2, 8]))
def full_update_bytes_numeric(sub, m, l, bpp):
    """bytes_per_param * m * l, with the default of 4 bytes and with others."""
    expect.close(actual=sub.full_update_bytes(m, l), expected=ref.full_update_bytes(m, l),
                 what=f"full_update_bytes({m}, {l})")
    expect.close(actual=sub.full_update_bytes(m, l, bytes_per_param=bpp),
                 expected=ref.full_update_bytes(m, l, bpp),
                 what=f"full_update_bytes({m}, {l}, bytes_per_param={bpp})")


@check("q1.lora_bytes.symbolic", uses="lora_bytes")
def lora_bytes_symbolic(sub):
    """lora_bytes(m, l, k) called with sympy symbols equals 4 k (m + l)."""
    got = call_with_symbols(sub, "lora_bytes", "m", "l", "k", shown="lora_bytes(m=m, l=l, k=k) with sympy symbols")
    expect.symbolic_equal(actual=got, expected=ref.lora_bytes(ref.m, ref.l, ref.k), symbols=MEMORY_RANGES,
                          key="q1.lora_bytes", what="lora_bytes(m, l, k) with symbols")


@check("q1.full_update_bytes.symbolic", uses="full_update_bytes")
def full_update_bytes_symbolic(sub):
    """full_update_bytes(m, l) called with sympy symbols equals 4 m l."""
    got = call_with_symbols(sub, "full_update_bytes", "m", "l", shown="full_update_bytes(m=m, l=l) with sympy symbols")
    expect.symbolic_equal(actual=got, expected=ref.full_update_bytes(ref.m, ref.l),
                          symbols={k: MEMORY_RANGES[k] for k in ("m", "l")},
                          key="q1.full_update_bytes", what="full_update_bytes(m, l) with symbols")


# ---------------------------------------------------------------- LoRALinear

def _probe(sub, m, l, k, seed):
    W0, x = matrices(seed, (m, l), (3, l))
    return W0, x, sub.experiment("q1_lora.linear_probe", W0, k, x)


def _need(report, key):
    if not isinstance(report, dict) or key not in report:
        raise Failed(f"the grader's probe of LoRALinear could not read {key!r}")
    return report[key]


@check("q1.LoRALinear.trainable_parameters", uses="LoRALinear")
def lora_linear_trainable_parameters(sub):
    """Only A (m x k) and B (k x l) train: exactly k*(m + l) trainable numbers; W0 is frozen."""
    for m, l, k, seed in [(5, 3, 2, 1), (4, 6, 3, 2)]:
        _, _, report = _probe(sub, m, l, k, seed)
        count = _need(report, "trainable_count")
        if count != k * (m + l):
            names = [t.get("name") for t in report.get("trainable") or [] if isinstance(t, dict)]
            raise Failed(f"LoRALinear(W0 of shape {m}x{l}, k={k}) has {count} trainable numbers "
                         f"(parameters: {names}); expected k*(m + l) = {k * (m + l)}. "
                         "Only A and B should be nn.Parameters; W0 must be a buffer or a tensor without grad.")
        if report.get("W0_requires_grad") is not False:
            raise Failed(f"LoRALinear(W0 of shape {m}x{l}, k={k}): W0 should be frozen "
                         f"(requires_grad False); the probe found {report.get('W0_requires_grad')}")


@check("q1.LoRALinear.initial_output", uses="LoRALinear")
def lora_linear_initial_output(sub):
    """At construction the layer computes exactly x @ W0.T (A @ B starts at zero)."""
    for m, l, k, seed in [(5, 3, 2, 3), (4, 6, 3, 4)]:
        W0, x, report = _probe(sub, m, l, k, seed)
        expect.close(actual=_need(report, "output_initial"), expected=x @ W0.T,
                     what="the initial output", where=f"LoRALinear(W0 {m}x{l}, k={k})(x) with x of shape {x.shape[0]}x{l}")


@check("q1.LoRALinear.sgd_step", uses="LoRALinear")
def lora_linear_sgd_step(sub):
    """One SGD step on a non-zero loss changes the output, and leaves W0 untouched."""
    for m, l, k, seed in [(5, 3, 2, 5), (4, 6, 3, 6)]:
        W0, x, report = _probe(sub, m, l, k, seed)
        where = f"LoRALinear(W0 {m}x{l}, k={k})"
        change = _need(report, "output_max_change")
        if not isinstance(change, (int, float)) or change <= 1e-12:
            raise Failed(f"{where}: one SGD step did not change the output. The gradient must reach "
                         "A or B: is one factor random and the other zero, and are both nn.Parameters?")
        w0_change = _need(report, "W0_max_change")
        if w0_change is None:
            raise Failed(f"{where}: the layer has no tensor attribute W0 (the contract names it W0)")
        if w0_change != 0:
            raise Failed(f"{where}: one SGD step changed W0 by up to {expect.g(w0_change)}; "
                         "W0 must stay frozen")


# ---------------------------------------------------------------- ANSWERS

@check("q1.answers.q1a", answers="q1a")
def answer_q1a(sub):
    """The LoRA knob to turn when the adapted model underfits (one of the listed choices)."""
    expect.choice(actual=sub.answer("q1a"), expected=ref.answers()["q1a"], what='ANSWERS["q1a"]',
                  options=("increase_rank", "decrease_rank", "freeze_more_layers", "lower_learning_rate"))


@check("q1.answers.q1d_ratio", answers="q1d_ratio")
def answer_q1d_ratio(sub):
    """LoRA memory over full-update memory, as a formula in m, l and k."""
    expect.symbolic_equal(actual=sub.answer("q1d_ratio"), expected=ref.answers()["q1d_ratio"],
                          symbols=MEMORY_RANGES, key="q1d_ratio", what='ANSWERS["q1d_ratio"]')
