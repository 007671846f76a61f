"""Q6 soft prompting: next-token loss positions, prompt size, one causal attention head.

Q6 uses the PyTorch convention: rows are tokens. ``causal_self_attention`` is
checked against the reference over drawn shapes, and the claim of part (c)(i)
is checked by running it: the outputs at the first K positions do not change
when any token after K changes.
"""
import numpy as np
from hypothesis import example

from hw11grader.authoring import check, expect, given, st
from hw11grader.authoring import Failed
from hw11grader.authoring import Opaque
from reference import q6_soft_prompt as ref

from ._common import call_with_symbols, described, dims, matrices, seeds


# The answer key (its symbolic parts: sympy), derived while the submission's process starts
# (runner._while_loading)
warm_up = ref.answers


MISTAKE_HINTS = {fn.__name__: hint for fns in ref.KNOWN_MISTAKES.values() for fn, hint in fns}
NO_MASK = MISTAKE_HINTS["causal_self_attention_no_mask"]
WRONG_AXIS = MISTAKE_HINTS["causal_self_attention_softmax_wrong_axis"]
NO_SHIFT = MISTAKE_HINTS["loss_output_positions_no_shift"]
SHIFT_WRONG_WAY = ("shifted the wrong way: the target at output position t is the input token at t + 1, "
                   "so input position t is predicted at output t - 1")
SELF_INCLUDED = ("position i attends to every j <= i, itself included, so no row of scores is fully masked "
                 "(mask only j > i: triu with diagonal=1)")
PROMPT_RANGES = {"K": (1.0, 100.0), "E": (1.0, 1e5)}


def _with_hint(message, hint):
    return f"{message}\n    Hint: {hint}" if hint else message


def _kind(value):
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"the number {value!r}"
    return "None" if value is None else f"a value of type {type(value).__name__}"


def _same(got, wrong, rtol):
    """Whether ``got`` matches the value a mistake would produce."""
    try:
        expect.close(actual=got, expected=wrong, rtol=rtol)
    except Failed:
        return False
    return True


# ---------------------------------------------------------------- loss_output_positions

def _fmt(positions, limit=30):
    """A list of positions for a message (long lists shortened in the middle)."""
    p = [int(v) for v in positions]
    if len(p) <= limit:
        return "[" + ", ".join(map(str, p)) + "]"
    return "[" + ", ".join(map(str, p[:12])) + f", ... ({len(p) - 24} more) ..., " + ", ".join(map(str, p[-12:])) + "]"


def _int_list(value, what):
    """A flat sequence of integer-valued numbers (list, tuple, range, numpy ints, tensor) -> list of int."""
    if value is None:
        raise Failed(f"{what} is None; expected a list of ints")
    if isinstance(value, Opaque):
        raise Failed(f"{what} is an object of type {value.type_name}; expected a list of ints "
                     "(for example sorted(...))")
    if isinstance(value, (list, tuple)) and any(isinstance(v, bool) for v in value):
        raise Failed(f"{what} contains True/False; expected a list of ints")
    arr, _ = expect.as_array(value, what=what)
    if arr.ndim != 1:
        shape = "a single number" if arr.ndim == 0 else f"an array of shape {tuple(arr.shape)}"
        raise Failed(f"{what} is {shape}; expected a flat list of ints")
    if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
        raise Failed(f"{what} should hold whole numbers (positions), got {expect.show(arr, 7)}")
    return [int(v) for v in arr]


def _position_hint(got, positions):
    """The misconception a wrong list of positions matches, if any."""
    got = sorted(set(got))
    if got == ref.loss_output_positions_no_shift(positions):
        return NO_SHIFT
    if got == sorted({p + 1 for p in positions}):
        return SHIFT_WRONG_WAY
    return None


def _positions_case(sub, positions):
    positions = [int(p) for p in positions]
    call = f"loss_output_positions(target_input_positions={_fmt(positions)})"
    got = _int_list(sub.loss_output_positions(list(positions)), f"{call} returned a value that")
    expected = ref.loss_output_positions(positions)
    hint = _position_hint(got, positions)
    as_set = ("the positions themselves are right" if sorted(set(got)) == expected
              else f"the positions are also wrong: expected {_fmt(expected)}")
    if len(set(got)) != len(got):
        dup = next(p for i, p in enumerate(got) if p in got[:i])
        raise Failed(_with_hint(
            f"{call} returned {_fmt(got)}: position {dup} appears more than once. The result must be "
            f"sorted without duplicates ({as_set}).", hint))
    bad = next((i for i in range(len(got) - 1) if got[i] > got[i + 1]), None)
    if bad is not None:
        raise Failed(_with_hint(
            f"{call} returned {_fmt(got)}: it is not in increasing order ({got[bad]} comes before "
            f"{got[bad + 1]}). The result must be sorted without duplicates ({as_set}).", hint))
    try:
        expect.integer(actual=got, expected=expected, what="the output positions", where=call)
    except Failed:
        raise Failed(_with_hint(f"{call}: got {_fmt(got)}, expected {_fmt(expected)}", hint)) from None


def _messy(base, seed):
    """``base`` (distinct positions) shuffled out of order, with 1-3 positions repeated."""
    rng = np.random.default_rng(seed)
    out = [int(base[i]) for i in rng.permutation(len(base))]
    if out == sorted(out):
        out.reverse()
    for _ in range(1 + seed % 3):
        out.insert(int(rng.integers(0, len(out) + 1)), int(out[int(rng.integers(0, len(out)))]))
    return out


@check("q6.loss_output_positions.homework_layout", uses="loss_output_positions")
def loss_output_positions_homework_layout(sub):
    """Chain of thought at inputs 51-70, answer at 71, newline at 72 -> outputs 50-71."""
    _positions_case(sub, list(range(51, 73)))


@check("q6.loss_output_positions.drawn_positions", uses="loss_output_positions")
@given(base=st.lists(st.integers(1, 400), min_size=2, max_size=12, unique=True), seed=seeds())
@example(base=[3, 8, 1], seed=1)  # small explicit cases first: common mistakes fail here, without shrinking
def loss_output_positions_drawn(sub, base, seed):
    """Drawn positions, unsorted and with repeats: each shifted by one, sorted, without duplicates."""
    _positions_case(sub, _messy(base, seed))


# ---------------------------------------------------------------- soft_prompt_params

@check("q6.soft_prompt_params.numeric", uses="soft_prompt_params")
@given(n=st.integers(2, 64), E=st.integers(2, 20_000))
def soft_prompt_params_numeric(sub, n, E):
    """n prompt tokens of E numbers each are trained (the model is frozen): n * E."""
    expect.close(actual=sub.soft_prompt_params(n, E), expected=ref.soft_prompt_params(n, E),
                 what=f"soft_prompt_params(n_prompt_tokens={n}, embed_dim={E})",
                 mistakes={"each prompt token has its own vector of embed_dim numbers: multiply, do not add.": n + E,
                           "every one of the n_prompt_tokens prompt vectors is trained, not just one.": E})


@check("q6.soft_prompt_params.symbolic", uses="soft_prompt_params")
def soft_prompt_params_symbolic(sub):
    """soft_prompt_params(K, E) called with sympy symbols equals K * E."""
    import sympy

    call = "soft_prompt_params(n_prompt_tokens=K, embed_dim=E) with sympy symbols K and E"
    got = call_with_symbols(sub, "soft_prompt_params", "K", "E", shown=call)
    expected = ref.soft_prompt_params(sympy.Symbol("K", positive=True), ref.E)
    expect.symbolic_equal(actual=got, expected=expected, symbols=PROMPT_RANGES,
                          key="q6.soft_prompt_params", what=call)


# ---------------------------------------------------------------- causal_self_attention

def _attention_inputs(n, d_model, d_head, seed):
    X, W_Q, W_K, W_V = matrices(seed, (n, d_model), (d_model, d_head), (d_model, d_head), (d_model, d_head))
    w = 1.0 / np.sqrt(d_model)  # scores of order one: the softmax is not one-hot
    return X, w * W_Q, w * W_K, w * W_V


def _where(n, d_model, d_head, seed, **inputs):
    return (f"causal_self_attention(X, W_Q, W_K, W_V) with n={n}, d_model={d_model}, d_head={d_head} "
            f"(seed={seed}; {described(**inputs)})")


def _attention_case(sub, n, d_model, d_head, seed):
    X, W_Q, W_K, W_V = _attention_inputs(n, d_model, d_head, seed)
    args = (X, W_Q, W_K, W_V)
    mistakes = {hint: fn(*args) for fn, hint in ref.KNOWN_MISTAKES["causal_self_attention"]}
    where = _where(n, d_model, d_head, seed, X=X, W_Q=W_Q)
    got = sub.causal_self_attention(*args)
    arr, _ = expect.as_array(got, what=f"{where}: the output")
    if arr.shape == (n, d_head) and not np.all(np.isfinite(arr)):
        row = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise Failed(_with_hint(f"{where}: the output contains {expect.g(arr[row][~np.isfinite(arr[row])][0])} "
                                f"in row {row}; expected finite numbers", _nonfinite_hint(arr)))
    expect.close(actual=got, expected=ref.causal_self_attention(*args), what="the output (n x d_head)",
                 where=where, mistakes=mistakes)


def _head_dims(d_model, d_head):
    return (d_model + 1 if d_model == d_head else d_model), d_head


@check("q6.causal_self_attention.matches_reference", uses="causal_self_attention")
@given(n=dims(3, 7), d_model=dims(2, 6), d_head=dims(2, 5), seed=seeds())
@example(n=3, d_model=3, d_head=2, seed=0)
def causal_self_attention_matches_reference(sub, n, d_model, d_head, seed):
    """softmax(Q K^T / sqrt(d_head) with the future masked, over j) V, rows are tokens, d_head != d_model."""
    d_model, d_head = _head_dims(d_model, d_head)
    _attention_case(sub, n, d_model, d_head, seed)


def _nonfinite_hint(out):
    """Only row 0 non-finite: its single score (j = 0 = i) was masked too."""
    bad = ~np.all(np.isfinite(out), axis=1)
    return SELF_INCLUDED if bad[0] and not bad[1:].any() else None


def _rows(value, n, d_head, what):
    got, rtol = expect.as_array(value, what=what)
    if got.shape != (n, d_head):
        note = " (it looks transposed)" if got.shape == (d_head, n) else ""
        raise Failed(f"{what} has shape {tuple(got.shape)}, expected {(n, d_head)} (n x d_head){note}")
    if not np.all(np.isfinite(got)):
        row = int(np.argwhere(~np.isfinite(got))[0][0])
        raise Failed(_with_hint(f"{what} contains non-finite values in row {row}", _nonfinite_hint(got)))
    return got, rtol


@check("q6.causal_self_attention.prefix_independent", uses="causal_self_attention")
@given(n=dims(4, 8), k=dims(1, 7), d_model=dims(2, 6), d_head=dims(2, 5), seed=seeds())
@example(n=4, k=2, d_model=3, d_head=2, seed=0)
def causal_self_attention_prefix_independent(sub, n, k, d_model, d_head, seed):
    """Part (c)(i), run: changing the tokens at positions >= K leaves the outputs at positions < K
    unchanged, and the output at position K does change (it attends to itself)."""
    d_model, d_head = _head_dims(d_model, d_head)
    K = min(k, n - 1)
    X, W_Q, W_K, W_V = _attention_inputs(n, d_model, d_head, seed)
    X2 = X.copy()
    X2[K:] = matrices(seed + 1, (n - K, d_model))[0]
    where = (f"causal_self_attention(X, W_Q, W_K, W_V) and then (X', W_Q, W_K, W_V) with n={n}, "
             f"d_model={d_model}, d_head={d_head}, K={K} (seed={seed}), where X' differs from X only in "
             f"rows {K}..{n - 1}")
    out1, rtol = _rows(sub.causal_self_attention(X, W_Q, W_K, W_V), n, d_head, f"{where}: the output for X")
    out2, rtol2 = _rows(sub.causal_self_attention(X2, W_Q, W_K, W_V), n, d_head, f"{where}: the output for X'")
    rtol = max(rtol, rtol2)
    tol = rtol * max(float(np.max(np.abs(out1))), 1e-12)
    change = np.max(np.abs(out2 - out1), axis=1)
    if np.any(change[:K] > tol):
        row = int(np.argmax(change[:K] > tol))
        args = (X, W_Q, W_K, W_V)
        hint = WRONG_AXIS if _same(out1, ref.causal_self_attention_softmax_wrong_axis(*args), rtol) else NO_MASK
        raise Failed(_with_hint(
            f"{where}: the output at position {row} changed by up to {expect.g(change[row])} although only "
            f"tokens at positions >= {K} changed. Under a causal mask the first K outputs depend only on the "
            "first K tokens (this is why the prompt's hidden states can be precomputed).", hint))
    if not change[K] > tol:
        raise Failed(f"{where}: the output at position {K} did not change when the token at position {K} "
                     "changed. Position i attends to every j <= i, itself included.")


# ---------------------------------------------------------------- ANSWERS

@check("q6.answers.q6a", answers="q6a")
def answer_q6a(sub):
    """The output positions for the homework's layout (targets at input positions 51-72)."""
    what = 'ANSWERS["q6a"]'
    got = _int_list(sub.answer("q6a"), what)
    expected = ref.answers()["q6a"]
    if len(set(got)) != len(got):
        dup = next(p for i, p in enumerate(got) if p in got[:i])
        raise Failed(f"{what} lists position {dup} more than once; give each output position once")
    # only membership and counts of the expected positions (the kit holds them as salted hashes)
    extra = [p for p in sorted(set(got)) if p not in expected]
    missing = [None] * (len(expected) - sum(1 for p in set(got) if p in expected))
    if extra or missing:
        detail = []
        if extra:
            detail.append(f"{len(extra)} of its positions (for example {extra[0]}) "
                          f"{'does' if len(extra) == 1 else 'do'} not enter the loss")
        if missing:
            detail.append(f"{len(missing)} of the positions that enter the loss "
                          f"{'is' if len(missing) == 1 else 'are'} missing")
        targets = list(range(51, 73))  # chain of thought 51-70, answer 71, newline 72
        raise Failed(_with_hint(f"{what} = {_fmt(got)} is not right: {' and '.join(detail)}",
                                _position_hint(got, targets)))


@check("q6.answers.q6b", answers="q6b")
def answer_q6b(sub):
    """Trainable parameters of the homework's soft prompt, as a formula in E."""
    expect.symbolic_equal(actual=sub.answer("q6b"), expected=ref.answers()["q6b"], symbols={"E": PROMPT_RANGES["E"]},
                          key="q6b", what='ANSWERS["q6b"]')


Q6C_STATEMENTS = (
    "the prompt positions' hidden states can be computed once and reused",
    "the best K-token soft prompt does at least as well as the best K-token hard prompt",
    "with free compute, full fine-tuning would always beat soft prompting",
    "training a soft prompt for task A degrades task B's soft prompt",
)
ROMAN = ("i", "ii", "iii", "iv")


@check("q6.answers.q6c", answers="q6c")
def answer_q6c(sub):
    """Four true/false statements of part (c), in order: a list of four booleans."""
    what = 'ANSWERS["q6c"]'
    got = sub.answer("q6c")
    if not isinstance(got, (list, tuple)):
        raise Failed(f"{what} should be a list of four booleans, got {_kind(got)}")
    if len(got) != 4:
        raise Failed(f"{what} should be a list of four booleans, one per statement (i)-(iv); got {len(got)} values")
    for i, v in enumerate(got):
        if not isinstance(v, bool):
            raise Failed(f"{what}[{i}] (statement ({ROMAN[i]})) is {_kind(v)}; write True or False "
                         "(without quotes)")
    expected = ref.answers()["q6c"]
    wrong = [i for i in range(4) if got[i] != expected[i]]
    if wrong:
        i = wrong[0]
        more = f" ({len(wrong) - 1} other statement{'s are' if len(wrong) > 2 else ' is'} also marked wrongly)" \
            if len(wrong) > 1 else ""
        hint = ("run causal_self_attention twice, changing only tokens after position K: "
                "do the first K outputs change?") if i == 0 else None
        raise Failed(_with_hint(
            f"{what}[{i}] = {got[i]} for statement ({ROMAN[i]}) ({Q6C_STATEMENTS[i]}) is not right{more}", hint))
