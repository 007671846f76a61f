"""Tests of the Q4 reference (against torch autograd / torch.optim.Adam), the Q7 sensitivity
reference, the reference cache (determinism, stale keys, the lock) and the sweep comparisons
of checks/q4_batch.py.

Run: .venv/bin/python -m pytest -q tests/test_reference_q4.py  (the full double build of the
cache is marked slow).
"""
import json
import math
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from reference import cache
from reference import q4_batch as ref
from reference import q7_sensitivity as ref7

ROOT = Path(__file__).resolve().parent.parent
F64 = torch.float64


# ---------------------------------------------------------------- update rules vs torch

@pytest.mark.parametrize("n,d,seed", [(1, 1, 0), (5, 3, 1), (32, 7, 2), (3, 10, 3)])
def test_linreg_grad_is_the_autograd_gradient(n, d, seed):
    rng = np.random.default_rng(seed)
    X, w, y = rng.standard_normal((n, d)), rng.standard_normal(d), rng.standard_normal(n)
    wt = torch.tensor(w, requires_grad=True)
    loss = ((torch.tensor(X) @ wt - torch.tensor(y)) ** 2).mean() / 2
    loss.backward()
    np.testing.assert_allclose(ref.linreg_grad(w, X, y), wt.grad.numpy(), rtol=1e-12, atol=1e-14)
    # the known mistakes are what they claim to be
    np.testing.assert_allclose(ref.linreg_grad_sum(w, X, y), n * ref.linreg_grad(w, X, y), rtol=1e-12)
    np.testing.assert_allclose(ref.linreg_grad_no_half(w, X, y), 2 * ref.linreg_grad(w, X, y), rtol=1e-12)


def test_sgd_update_new_arrays_inputs_untouched():
    p, g = [np.ones(3), np.arange(4.0).reshape(2, 2)], [np.full(3, 2.0), np.ones((2, 2))]
    keep = [a.copy() for a in p + g]
    out = ref.sgd_update(p, g, 0.25)
    np.testing.assert_array_equal(out[0], np.full(3, 0.5))
    np.testing.assert_array_equal(out[1], np.arange(4.0).reshape(2, 2) - 0.25)
    for a, b in zip(p + g, keep):
        np.testing.assert_array_equal(a, b)
    assert all(o is not a for o, a in zip(out, p))


@pytest.mark.parametrize("lr,betas,eps,scale", [
    (1e-3, (0.9, 0.999), 1e-8, 1.0),
    (0.05, (0.8, 0.99), 1e-6, 1e-5),
    (0.3, (0.5, 0.9), 1e-3, 10.0),
    (1e-4, (0.95, 0.999), 1e-8, 1e-3),
])
def test_adam_update_is_torch_optim_adam(lr, betas, eps, scale):
    rng = np.random.default_rng(7)
    shapes = [(3,), (2, 4), (1,)]
    params = [rng.standard_normal(s) for s in shapes]
    torch_params = [torch.tensor(p, requires_grad=True) for p in params]
    opt = torch.optim.Adam(torch_params, lr=lr, betas=betas, eps=eps)
    state, current = {}, [p.copy() for p in params]
    for _ in range(8):
        grads = [scale * rng.standard_normal(s) for s in shapes]
        before = [c.copy() for c in current]
        current, state = ref.adam_update(current, grads, state, lr, betas, eps)
        for a, b in zip(before, current):
            assert a is not b
        for tp, g in zip(torch_params, grads):
            tp.grad = torch.tensor(g)
        opt.step()
        for mine, tp, p0 in zip(current, torch_params, params):
            theirs = tp.detach().numpy()
            np.testing.assert_allclose(mine - p0, theirs - p0, rtol=1e-9, atol=1e-15)
    # the known mistakes differ from it
    c1, _ = ref.adam_update_no_bias_correction(params, grads, {}, lr, betas, eps)
    c2, _ = ref.adam_update(params, grads, {}, lr, betas, eps)
    assert not np.allclose(c1[0] - params[0], c2[0] - params[0], rtol=1e-3)


def test_adam_default_arguments_match_torch_defaults():
    import inspect
    sig = inspect.signature(ref.adam_update)
    defaults = torch.optim.Adam([torch.zeros(1, requires_grad=True)]).defaults
    assert sig.parameters["betas"].default == defaults["betas"]
    assert sig.parameters["eps"].default == defaults["eps"]


def test_builder_torch_rules_equal_the_numpy_reference():
    from reference import empirical as b
    from reference import q7_compression
    rng = np.random.default_rng(3)
    X, w, y = rng.standard_normal((16, 5)), rng.standard_normal(5), rng.standard_normal(16)
    np.testing.assert_allclose(b.linreg_grad(*map(torch.tensor, (w, X, y))).numpy(), ref.linreg_grad(w, X, y),
                               rtol=1e-12)
    params = [rng.standard_normal((2, 3)), rng.standard_normal(4)]
    st_np, st_t, cur_np, cur_t = {}, {}, params, [torch.tensor(p) for p in params]
    for _ in range(5):
        grads = [rng.standard_normal(p.shape) for p in params]
        cur_np, st_np = ref.adam_update(cur_np, grads, st_np, 0.01)
        cur_t, st_t = b.adam_update(cur_t, [torch.tensor(g) for g in grads], st_t, 0.01)
        for a, t in zip(cur_np, cur_t):
            np.testing.assert_allclose(t.numpy(), a, rtol=1e-13)
    out = b.sgd_update([torch.tensor(p) for p in params], [torch.ones(2, 3), torch.ones(4)], 0.5)
    for a, p in zip(out, params):
        np.testing.assert_allclose(a.numpy(), p - 0.5)
    W = rng.standard_normal((7, 9))
    for s in (0.0, 0.3, 0.5, 0.95, 1.0):
        np.testing.assert_array_equal(b.magnitude_prune(torch.tensor(W), s).numpy(),
                                      q7_compression.magnitude_prune(W, s))


# ---------------------------------------------------------------- analysis

def test_optimal_lr_edge_cases():
    nan, inf = math.nan, math.inf
    assert ref.optimal_lr([0.1, 0.2, 0.4], [0.5, 0.3, 0.4]) == 0.2
    assert ref.optimal_lr([0.1, 0.2, 0.4], [nan, 0.3, 0.1]) == 0.4
    assert ref.optimal_lr([0.1, 0.2, 0.4], [0.3, inf, nan]) == 0.1
    assert ref.optimal_lr([0.1, 0.2, 0.4], [nan, nan, nan]) is None
    assert ref.optimal_lr([0.1, 0.2, 0.4], [inf, nan, inf]) is None
    assert ref.optimal_lr([0.4, 0.1], [0.2, 0.2]) == 0.4          # ties: the first
    assert ref.optimal_lr([0.1, 0.2], [-inf, 0.3]) == 0.2          # -inf is not finite either


@pytest.mark.parametrize("exponent,coef", [(1.0, 0.01), (0.5, 3.0), (0.0, 0.25), (-1.0, 7.5), (0.886, 1e-3)])
def test_fit_power_law_recovers_exact_laws(exponent, coef):
    xs = [4, 8, 16, 32, 64, 128]
    e, c = ref.fit_power_law(xs, [coef * x ** exponent for x in xs])
    assert abs(e - exponent) < 1e-12 and abs(c - coef) < 1e-12 * coef
    e2, _ = ref.fit_power_law_linear_space(xs, [coef * x ** exponent for x in xs])
    if exponent not in (0.0, 1.0):
        assert abs(e2 - exponent) > 1e-3


def test_fit_power_law_is_least_squares_in_log_log():
    rng = np.random.default_rng(1)
    xs = 2.0 ** np.arange(2, 9)
    ys = 0.3 * xs ** 0.7 * np.exp(rng.normal(0, 0.2, xs.size))
    slope, intercept = np.polyfit(np.log(xs), np.log(ys), 1)
    e, c = ref.fit_power_law(xs, ys)
    assert abs(e - slope) < 1e-12 and abs(math.log(c) - intercept) < 1e-12


def test_law_of():
    assert [ref.law_of(v) for v in (1.2, 0.886, 0.76, 0.74, 0.671, 0.3, 0.24, -0.057, -0.6, -3)] == \
        ["linear", "linear", "linear", "sqrt", "sqrt", "sqrt", "constant", "constant", "inverse", "inverse"]
    assert ref.law_of(None) is None and ref.law_of(math.nan) is None


def test_analyse_ignores_all_diverged_batch_sizes():
    inf = math.inf
    sweep = {"lrs": [0.1, 0.2, 0.4, 0.8], "batch_sizes": [4, 8, 16, 32],
             "final_loss": [[0.5, 0.2, 0.3, inf], [inf, inf, inf, inf], [0.9, 0.5, 0.1, 0.2], [0.9, 0.5, 0.3, 0.1]]}
    out = ref.analyse(sweep)
    assert out["optimal_lr"] == [0.2, None, 0.4, 0.8]
    assert out["fitted_batch_sizes"] == [4, 16, 32]
    e, _ = ref.fit_power_law([4, 16, 32], [0.2, 0.4, 0.8])
    assert abs(out["exponent"] - e) < 1e-12 and out["law"] == ref.law_of(e)
    one = dict(sweep, final_loss=[[inf] * 4, [inf] * 4, [inf] * 4, [0.9, 0.5, 0.3, 0.1]])
    assert ref.analyse(one)["exponent"] is None and ref.analyse(one)["law"] is None


def test_sweep_table_matches_the_experiments():
    from experiments import q4_batch
    assert ref.SWEEPS == q4_batch.DEFAULT_SWEEPS
    assert set(ref.ANSWER_SWEEPS.values()) <= set(ref.SWEEPS)


def test_q7_most_sensitive_criterion():
    result = {"layers": ["fc1", "fc2", "fc3"], "dense_accuracy": 0.9,
              "accuracy": {"fc1": [0.9, 0.8, 0.5], "fc2": [0.9, 0.9, 0.85], "fc3": [0.9, 0.7, 0.55]}}
    assert ref7.total_drop(result, "fc1") == pytest.approx(0.5)
    assert ref7.total_drop(result, "fc3") == pytest.approx(0.55)
    assert ref7.most_sensitive(result) == "fc3"           # largest summed drop, not the lowest final point
    result["accuracy"]["fc3"] = [0.9, 0.8, 0.5]           # an exact tie: the first layer
    assert ref7.most_sensitive(result) == "fc1"


# ---------------------------------------------------------------- the measured keys

def test_answers_are_the_nearest_laws_of_the_reference_sweeps():
    answers = ref.answers()
    for key, name in ref.ANSWER_SWEEPS.items():
        an = ref.reference_analysis(name)
        assert answers[key] == ref.law_of(an["exponent"])
        print(f"{key}: sweep {name}, exponent {an['exponent']:.3f} -> {answers[key]}; "
              f"optimal lr {an['optimal_lr']}")
    assert answers == {"q4a_law": "linear", "q4b_law": "linear", "q4c_law": "sqrt"}   # as documented
    assert ref.law_of(ref.reference_analysis("c_linreg")["exponent"]) == "constant"   # documented disagreement
    assert "law" not in ref.reference_analysis("a")  # what public checks read stops at the exponent


def test_the_judging_of_a_sweep_agrees_with_the_reference_analysis():
    """checks/_judging.py (shipped in the kit) measures a sweep as the reference's analysis does."""
    from checks import _judging
    for name in ref.SWEEPS:
        sweep = ref.reference_sweep(name)
        theirs, ours = ref.analyse(sweep), _judging.sweep_analysis(sweep)
        assert ours["optimal_lr"] == theirs["optimal_lr"] and ours["batch_sizes"] == theirs["batch_sizes"]
        assert ours["exponent"] == pytest.approx(theirs["exponent"], rel=1e-12)
        assert ours["coefficient"] == pytest.approx(theirs["coefficient"], rel=1e-12)
        assert ours["law"] == theirs["law"]
    assert ref7.answers() == {"q7a_most_sensitive": "fc3"}


def test_template_master_holds_the_measured_keys():
    text = (ROOT / "tools" / "template" / "hw11_master.py").read_text()
    for key, value in {**ref.answers(), **ref7.answers()}.items():
        assert f'"{key}": "{value}",' in text, key


# ---------------------------------------------------------------- the cache

def test_grading_side_never_imports_torch():
    code = ("import sys\n"
            "import reference.q4_batch as r, reference.q7_sensitivity as s, reference.cache\n"
            "r.answers(); s.answers(); r.reference_sweep('b')\n"
            "from hw11grader import load_content\n"
            "load_content()\n"
            "import checks.q4_batch, checks.q7_sensitivity, checks.q1_experiments\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_cache_files_are_plain_json_with_their_key():
    cache.ensure()
    for name in cache.NAMES:
        doc = json.loads(cache.path_of(name).read_text())
        assert doc["name"] == name and doc["key"] == cache.key()
        assert doc["data"] == cache.load(name)


def test_key_covers_the_experiments_and_the_reference():
    names = {p.relative_to(ROOT).as_posix() for p in cache._sources()}
    assert {"experiments/__init__.py", "experiments/q4_batch.py", "experiments/q7_sensitivity.py",
            "experiments/q1_lora.py", "reference/q4_batch.py", "reference/q7_sensitivity.py",
            "reference/cache.py", "reference/empirical.py", "hw11grader/staff/build_cache.py"} <= names


def test_key_changes_with_a_source(tmp_path, monkeypatch):
    extra = tmp_path / "extra.py"
    extra.write_text("x = 1\n")
    sources = cache._sources
    monkeypatch.setattr(cache, "_sources", lambda: sources() + [extra])
    k1 = cache.compute_key()
    extra.write_text("x = 2\n")
    assert cache.compute_key() != k1
    assert cache.compute_key("other settings") != cache.compute_key()


CHEAP = ["q4_a", "q4_c_linreg", "q7_sensitivity", "q1_scenarios"]


def test_a_second_build_is_byte_identical(tmp_path):
    """Builds in separate processes give identical files (the main cache is the first build)."""
    cache.ensure()
    cache.build(CHEAP, tmp_path, cache.key())
    for name in CHEAP:
        assert (tmp_path / cache.path_of(name).name).read_bytes() == cache.path_of(name).read_bytes(), name


@pytest.mark.slow
def test_two_full_builds_are_byte_identical(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    cache.build(cache.NAMES, a, "k")
    cache.build(cache.NAMES, b, "k")
    for name in cache.NAMES:
        assert (a / f"{name}-k.json").read_bytes() == (b / f"{name}-k.json").read_bytes(), name


def test_stale_key_is_rebuilt_and_removed(tmp_path):
    stale = tmp_path / "q4_a-0123456789abcdef0123.json"
    stale.write_text(json.dumps({"name": "q4_a", "key": "0123456789abcdef0123", "data": {"stale": True}}))
    new_key = cache.key()
    cache.ensure(["q4_a"], tmp_path, new_key, everything=False)
    assert not stale.exists()
    doc = json.loads((tmp_path / f"q4_a-{new_key}.json").read_text())
    assert doc["key"] == new_key and doc["data"] == cache.load("q4_a")


def test_load_rebuilds_a_cold_folder(tmp_path, monkeypatch):
    calls = []

    def fake_build(names, directory, cache_key):
        calls.append(list(names))
        for n in names:
            (Path(directory) / f"{n}-{cache_key}.json").write_text(
                json.dumps({"name": n, "key": cache_key, "data": {"built": n}}))

    monkeypatch.setattr(cache, "build", fake_build)
    monkeypatch.setenv("HW11_CACHE_DIR", str(tmp_path))
    cache.folder.cache_clear()
    try:
        assert cache.load("q1_scenarios") == {"built": "q1_scenarios"}
        assert calls == [list(cache.NAMES)]          # one build of everything missing
        assert cache.load("q4_b") == {"built": "q4_b"} and len(calls) == 1
    finally:
        cache.folder.cache_clear()
        cache._MEMO.clear()


def test_concurrent_builders_build_once(tmp_path, monkeypatch):
    calls = []

    def slow_build(names, directory, cache_key):
        calls.append(list(names))
        time.sleep(0.3)
        for n in names:
            (Path(directory) / f"{n}-{cache_key}.json").write_text(
                json.dumps({"name": n, "key": cache_key, "data": {}}))

    monkeypatch.setattr(cache, "build", slow_build)
    threads = [threading.Thread(target=cache.ensure, args=(cache.NAMES, tmp_path, "kk")) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1


def test_a_failing_build_is_a_cache_error(tmp_path):
    with pytest.raises(cache.CacheError):
        cache.build(["no_such_result"], tmp_path, "k")


# ---------------------------------------------------------------- the sweep comparisons of the checks

def _perturbed(sweep, rel, seed=0):
    rng = np.random.default_rng(seed)
    out = json.loads(json.dumps(sweep))
    out["final_loss"] = [[v * (1 + rel * rng.standard_normal()) if math.isfinite(v) else v for v in row]
                         for row in sweep["final_loss"]]
    return out


@pytest.mark.parametrize("name", list(ref.SWEEPS))
def test_reference_sweep_against_itself_and_float_noise(name):
    from checks import q4_batch as chk
    sweep = ref.reference_sweep(name)
    assert chk.departures(sweep, sweep) == []
    assert chk.departures(_perturbed(sweep, 1e-7), sweep) == []
    assert len(chk.departures(_perturbed(sweep, 1e-1), sweep)) > 10
    assert abs(ref.analyse(_perturbed(sweep, 1e-9))["exponent"] - ref.reference_analysis(name)["exponent"]) < 1e-9


def test_near_ties_count_as_equally_optimal():
    from checks import q4_batch as chk
    row = np.array([0.5, 0.30001, 0.3, 0.4, math.inf])
    assert chk._near_best(row, 0.0) == [1, 2]
    assert chk._near_best(np.array([math.inf, math.inf]), 0.0) == []
    assert chk._near_best(np.array([1e-20, 5e-18, 0.1]), 1e-12) == [0, 1]      # the float floor


def test_divergence_edge_is_tolerated_elsewhere_not():
    from checks import q4_batch as chk
    inf = math.inf
    reference = {"batch_sizes": [4], "lrs": [0.1, 0.2, 0.4, 0.8, 1.6], "initial_loss": 1.0,
                 "final_loss": [[0.5, 0.2, 0.1, inf, inf]]}
    edge = dict(reference, final_loss=[[0.5, 0.2, inf, inf, inf]])        # diverges one step earlier
    assert chk.departures(edge, reference) == []
    early = dict(reference, final_loss=[[0.5, inf, inf, inf, inf]])       # two steps earlier
    assert [d["why"] for d in chk.departures(early, reference)] == ["diverged"]
    late = dict(reference, final_loss=[[0.5, 0.2, 0.1, 0.3, 0.9]])        # converges where the reference diverged
    assert [d["j"] for d in chk.departures(late, reference)] == [4]


# ---------------------------------------------------------------- the grader-owned unit scenarios

def _lab(**functions):
    """Functions behind a Lab in this process (the wire conversions of grading)."""
    from hw11grader.boundary.lab import local_lab
    return local_lab(functions)


def test_update_steps_reports_values_and_in_place_changes():
    import types
    from experiments import q4_batch
    from reference import empirical as b

    def sgd_inplace(params, grads, lr):
        for p, g in zip(params, grads):
            p.sub_(lr * g)
        return params

    seen = []

    def adam_spy(params, grads, state, lr, betas=(0.9, 0.999), eps=1e-8):
        seen.append((id(state), betas, eps))
        new, st = b.adam_update(params, grads, state, lr, betas, eps)
        return tuple(new), st

    params = [np.arange(3.0), np.ones((2, 2))]
    grads = [[np.ones(3), np.full((2, 2), 2.0)], [np.ones(3), np.ones((2, 2))]]
    ns = _lab(sgd_update=b.sgd_update, adam_update=adam_spy)
    out = q4_batch.update_steps(ns, "sgd", params, grads, 0.5)
    json.dumps(out)
    assert out["params_modified"] == [False, False] and out["grads_modified"] == [False, False]
    assert out["params"][1] == [[-1.0, 0.0, 1.0], [[-0.5, -0.5], [-0.5, -0.5]]]
    bad = q4_batch.update_steps(_lab(sgd_update=sgd_inplace), "sgd", params, grads, 0.5)
    assert bad["params_modified"] == [True, True] and bad["params"] == out["params"]
    res = q4_batch.update_steps(ns, "adam", params, grads, 0.1, betas=[0.8, 0.99], eps=1e-6)
    expected, state = [], {}
    current = params
    for g in grads:
        current, state = ref.adam_update(current, g, state, 0.1, (0.8, 0.99), 1e-6)
        expected.append([c.tolist() for c in current])
    for got_step, exp_step in zip(res["params"], expected):
        for got, exp in zip(got_step, exp_step):
            np.testing.assert_allclose(got, exp, rtol=1e-13)
    assert seen[0][1:] == ((0.8, 0.99), 1e-6)
    q4_batch.update_steps(ns, "adam", params, grads, 0.1)          # defaults: nothing passed by keyword
    assert seen[-1][1:] == ((0.9, 0.999), 1e-8)


def test_sensitivity_prune_stats_tell_a_wrong_pruning():
    import types
    from experiments import q7_sensitivity
    from reference import empirical as b

    def prune_largest(W, s):
        k = int(round(s * W.numel()))
        out = W.clone().reshape(-1)
        out[torch.argsort(out.abs(), descending=True)[:k]] = 0
        return out.reshape(W.shape)

    good = q7_sensitivity.sensitivity(_lab(magnitude_prune=b.magnitude_prune), sparsities=[0.5])
    bad = q7_sensitivity.sensitivity(_lab(magnitude_prune=prune_largest), sparsities=[0.5])
    for name in good["layers"]:
        g, w = good["prune_stats"][name][0], bad["prune_stats"][name][0]
        assert g["zeroed"] == w["zeroed"] == good["weight_stats"][name]["numel"] // 2
        assert g["pruned_max_abs"] <= g["kept_min_abs"] and g["kept_changed"] == 0
        assert w["pruned_max_abs"] > w["kept_min_abs"]
