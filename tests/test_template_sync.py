"""The generated student template and correct solution stay in sync with their master
(tools/template/hw11_master.py) and with the student-API contract."""

from __future__ import annotations

import ast
import math
import re
import runpy
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT.parent / "shared" / "spec" / "student-api.md"
TEMPLATE_PY = ROOT / "student_template" / "hw11.py"
TEMPLATE_NB = ROOT / "student_template" / "hw11.ipynb"
CORRECT_PY = ROOT / "tests" / "submissions" / "correct.py"
CORRECT_NB = ROOT / "tests" / "submissions" / "correct.ipynb"

# Hard-coded copy of the contract (student-api.md), so the test still means something
# when the spec is not checked out next to the repository.
CONTRACT_NAMES = [
    # Q1
    "lora_init", "lora_grads", "lora_bytes", "full_update_bytes", "LoRALinear",
    # Q3
    "zero_layer_logits", "concat_output_matrix", "multihead_sum", "multihead_concat",
    "qk_matrix", "attention_scores", "ov_matrix", "attention_mix", "one_layer_residual",
    "read_write_subspaces",
    # Q4
    "linreg_grad", "sgd_update", "adam_update", "optimal_lr", "fit_power_law",
    # Q5
    "chinchilla_optimal", "compute_for_params", "tokens_for_compute", "tokens_to_books",
    "param_bytes", "gpus_to_store", "storage_cost_per_year", "seconds_per_token",
    "petaflop_days", "training_cost", "training_days", "inference_cost", "tokens_to_recoup",
    "landauer_power", "carbon_cost", "burgers",
    # Q6
    "loss_output_positions", "soft_prompt_params", "causal_self_attention",
    # Q7
    "magnitude_prune", "channel_prune_compute_fraction", "kmeans_quantize",
    "linear_quant_params", "linear_quantize", "linear_dequantize",
]
CONTRACT_ANSWER_KEYS = [
    "q1a", "q1d_ratio", "q3c", "q3e_rank_bound", "q4a_law", "q4b_law", "q4c_law",
    "q5b_N_opt", "q5b_D_opt", "q5c_C", "q5c_D", "q5d_books", "q5e_gpus",
    "q5f_ssd_dollars", "q5f_dram_dollars", "q5g_gpt6_seconds", "q5g_gpt3_seconds",
    "q5h_gpt3_dollars", "q5h_gpt6_dollars", "q5h_gpt6_days", "q5j_dollars", "q5j_essays",
    "q5k_ratio", "q5l_burgers", "q6a", "q6b", "q6c", "q7a_compute_left", "q7a_phone",
    "q7a_most_sensitive", "q7b_kmeans_values", "q7b_nbit_values", "q7b_scale",
    "q7b_zero_point",
]
CONTRACT_WRITTEN_KEYS = [
    "q1b", "q1c", "q3a_ii", "q3b_ii", "q3e_iv", "q3e_v", "q4a", "q4b", "q4c",
    "q6c_i", "q6c_ii", "q6c_iii", "q6c_iv", "q6d",
    "q7a_i", "q7a_ii", "q7a_iii", "q7a_iv", "q7a_vii", "q7a_viii",
    "q7b_iii", "q7b_vi", "q7b_vii",
]


# ---------------------------------------------------------------------------- helpers


def _t(*rows):
    return torch.tensor(rows, dtype=torch.float64)


def _rand(*shape, seed=0):
    g = torch.Generator().manual_seed(seed + 17 * len(shape) + sum(shape))
    return torch.randn(*shape, generator=g, dtype=torch.float64)


# Plausible positional arguments for every function of the contract.
PLAUSIBLE_ARGS = {
    "lora_init": lambda: (5, 2, 3),
    "lora_grads": lambda: (_rand(5, 3), _rand(5, 2), _rand(2, 3)),
    "lora_bytes": lambda: (5, 3, 2),
    "full_update_bytes": lambda: (5, 3),
    "LoRALinear": lambda: (_rand(5, 3), 2),
    "zero_layer_logits": lambda: (_rand(4, 6), _rand(6, 4), torch.eye(6, dtype=torch.float64)[:, :3]),
    "concat_output_matrix": lambda: ([_rand(4, 2), _rand(4, 2, seed=1)],),
    "multihead_sum": lambda: ([_rand(2, 3), _rand(2, 3, seed=1)], [_rand(4, 2), _rand(4, 2, seed=1)]),
    "multihead_concat": lambda: ([_rand(2, 3), _rand(2, 3, seed=1)], _rand(4, 4)),
    "qk_matrix": lambda: (_rand(2, 4), _rand(2, 4, seed=1)),
    "attention_scores": lambda: (_rand(4, 3), _rand(4, 4)),
    "ov_matrix": lambda: (_rand(4, 2), _rand(2, 4)),
    "attention_mix": lambda: (_rand(4, 3), torch.softmax(_rand(3, 3), dim=1)),
    "one_layer_residual": lambda: (_rand(4, 3), [_rand(4, 4)], [torch.softmax(_rand(3, 3), dim=1)]),
    "read_write_subspaces": lambda: (_rand(4, 2) @ _rand(2, 4, seed=1),),
    "linreg_grad": lambda: (_rand(3), _rand(8, 3), _rand(8)),
    "sgd_update": lambda: ([_rand(3)], [_rand(3, seed=1)], 0.1),
    "adam_update": lambda: ([_rand(3)], [_rand(3, seed=1)], {}, 0.1),
    "optimal_lr": lambda: ([0.01, 0.1, 1.0], [0.5, 0.2, float("nan")]),
    "fit_power_law": lambda: ([1.0, 2.0, 4.0], [3.0, 6.0, 12.0]),
    "chinchilla_optimal": lambda: (1e20, 406.4, 410.7, 0.34, 0.28, 6),
    "compute_for_params": lambda: (1e14,),
    "tokens_for_compute": lambda: (1e30,),
    "tokens_to_books": lambda: (1e15,),
    "param_bytes": lambda: (1e9,),
    "gpus_to_store": lambda: (1e12,),
    "storage_cost_per_year": lambda: (1e14, 5e-5),
    "seconds_per_token": lambda: (1e14,),
    "petaflop_days": lambda: (1e30,),
    "training_cost": lambda: (1e30,),
    "training_days": lambda: (1e30, 3e7),
    "inference_cost": lambda: (1e12, 1e6),
    "tokens_to_recoup": lambda: (1e9,),
    "landauer_power": lambda: (1.98e15,),
    "carbon_cost": lambda: (552,),
    "burgers": lambda: (552,),
    "loss_output_positions": lambda: (list(range(51, 73)),),
    "soft_prompt_params": lambda: (5, 768),
    "causal_self_attention": lambda: (_rand(5, 4), _rand(4, 2), _rand(4, 2, seed=1), _rand(4, 2, seed=2)),
    "magnitude_prune": lambda: (_rand(4, 5), 0.3),
    "channel_prune_compute_fraction": lambda: (0.3,),
    "kmeans_quantize": lambda: (_rand(6, 5), 2),
    "linear_quant_params": lambda: (-1.3, 2.7, -128, 127),
    "linear_quantize": lambda: (_rand(4, 3), 0.0157, 3, -128, 127),
    "linear_dequantize": lambda: (torch.tensor([[1, -5], [7, 100]]), 0.0157, 3),
}


def _parse_spec(text: str):
    """(names, answer keys, written keys) read from student-api.md."""
    names, answer_keys, written = set(), set(), set()
    header = None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cols[0]
            continue
        if set(cols[0]) <= set("-: "):
            continue
        tokens = re.findall(r"`([^`]+)`", cols[0])
        if header == "name":
            names.update(tokens)
        elif header == "key":
            answer_keys.update(tokens)
    answer_keys.update(re.findall(r'ANSWERS\["(\w+)"\]', text))
    for block in re.findall(r"`WRITTEN`:(.*?)(?:\n\s*\n|\Z)", text, flags=re.S):
        written.update(t for t in re.findall(r"`([^`]+)`", block) if re.fullmatch(r"q\d\w*", t))
    return names, answer_keys, written


def _top_level_names(source: str) -> set[str]:
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _notebook_code(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def _exec_notebook(path: Path) -> dict:
    ns: dict = {"__name__": "__hw11_notebook__"}
    for i, source in enumerate(_notebook_code(path)):
        exec(compile(source, f"{path.name}[cell {i}]", "exec"), ns)
    return ns


@pytest.fixture(scope="module")
def template_ns():
    return runpy.run_path(str(TEMPLATE_PY))


@pytest.fixture(scope="module")
def correct_ns():
    return runpy.run_path(str(CORRECT_PY))


# ---------------------------------------------------------------------------- (a) in sync


def test_generator_check_reports_no_difference():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_template.py"), "--check"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_generator_is_deterministic_and_notebooks_are_clean():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import make_template
    finally:
        sys.path.pop(0)
    assert make_template.generate() == make_template.generate()
    for path in (TEMPLATE_NB, CORRECT_NB):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3"
        ids = [c.id for c in nb.cells]
        assert ids == [f"cell-{i:03d}" for i in range(1, len(ids) + 1)]
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None


def test_student_files_do_not_say_do_not_edit():
    for path in (TEMPLATE_PY, TEMPLATE_NB):
        text = path.read_text(encoding="utf-8").lower()
        assert "do not edit" not in text and "don't edit" not in text
        assert "edit this file" in text


# ---------------------------------------------------------------------------- (b) names


def test_template_py_and_ipynb_define_the_same_names():
    py_names = _top_level_names(TEMPLATE_PY.read_text(encoding="utf-8"))
    nb_names = _top_level_names("\n\n".join(_notebook_code(TEMPLATE_NB)))
    assert py_names == nb_names
    assert {"ANSWERS", "WRITTEN"} <= py_names
    missing = sorted(set(CONTRACT_NAMES) - py_names)
    assert not missing, f"contract names missing from the template: {missing}"


def test_template_covers_the_spec_tables():
    if not SPEC.is_file():
        pytest.skip(f"contract not found at {SPEC} (hard-coded list checked elsewhere)")
    names, answer_keys, written_keys = _parse_spec(SPEC.read_text(encoding="utf-8"))
    assert len(names) >= 40 and len(answer_keys) >= 30 and len(written_keys) >= 20
    # the hard-coded copy is the spec (the spec abbreviates q6c_ii, q6c_iii with an ellipsis)
    assert names == set(CONTRACT_NAMES)
    assert answer_keys == set(CONTRACT_ANSWER_KEYS)
    assert written_keys <= set(CONTRACT_WRITTEN_KEYS)
    defined = _top_level_names(TEMPLATE_PY.read_text(encoding="utf-8"))
    assert not sorted(names - defined)


def test_answer_and_written_keys(template_ns, correct_ns):
    for ns in (template_ns, correct_ns):
        assert list(ns["ANSWERS"]) == CONTRACT_ANSWER_KEYS
        assert list(ns["WRITTEN"]) == CONTRACT_WRITTEN_KEYS
    assert all(v is None for v in template_ns["ANSWERS"].values())
    assert all(v == "" for v in template_ns["WRITTEN"].values())
    assert all(isinstance(v, str) and len(v) > 20 for v in correct_ns["WRITTEN"].values())
    assert all(v is not None for v in correct_ns["ANSWERS"].values())


def test_signatures_match_between_template_and_correct(template_ns, correct_ns):
    import inspect

    for name in CONTRACT_NAMES:
        t, c = template_ns[name], correct_ns[name]
        if inspect.isclass(t):
            t, c = t.__init__, c.__init__
        assert inspect.signature(t) == inspect.signature(c), name


# ---------------------------------------------------------------------------- (c) correct


def test_correct_spot_checks(correct_ns):
    ns = correct_ns
    dA, dB = ns["lora_grads"](*PLAUSIBLE_ARGS["lora_grads"]())
    assert tuple(dA.shape) == (5, 2) and tuple(dB.shape) == (2, 3)

    A, B = ns["lora_init"](6, 2, 4, generator=torch.Generator().manual_seed(0))
    assert tuple(A.shape) == (6, 2) and tuple(B.shape) == (2, 4)
    assert torch.count_nonzero(A @ B) == 0 and (torch.count_nonzero(A) > 0 or torch.count_nonzero(B) > 0)

    args = dict(A=406.4, B=410.7, alpha=0.34, beta=0.28, C0=6)
    n1, d1 = ns["chinchilla_optimal"](1e20, **args)
    n2, d2 = ns["chinchilla_optimal"](1e22, **args)
    assert math.log(n2 / n1) / math.log(100) == pytest.approx(0.4516, abs=1e-4)
    assert math.log(d2 / d1) / math.log(100) == pytest.approx(0.5484, abs=1e-4)
    assert 6 * n1 * d1 == pytest.approx(1e20, rel=1e-9)

    assert ns["ANSWERS"]["q6a"] == list(range(50, 72))
    assert ns["loss_output_positions"](range(51, 73)) == list(range(50, 72))
    assert ns["gpus_to_store"](1e12) == 20 and ns["gpus_to_store"](1.01e12) == 21
    assert ns["optimal_lr"]([0.1, 1.0], [float("nan"), float("inf")]) is None


def test_correct_lora_linear(correct_ns):
    W0 = _rand(5, 3)
    layer = correct_ns["LoRALinear"](W0, 2)
    trainable = [p for p in layer.parameters() if p.requires_grad]
    assert sum(p.numel() for p in trainable) == 2 * (5 + 3)
    x = _rand(7, 3, seed=4)
    assert torch.allclose(layer(x), x @ W0.T)
    loss = (layer(x) ** 2).sum()
    loss.backward()
    with torch.no_grad():
        for p in trainable:
            p -= 0.1 * p.grad
    assert not torch.allclose(layer(x), x @ W0.T)


def test_correct_adam_matches_torch(correct_ns):
    p0 = [_rand(3, 2), _rand(4, seed=1)]
    torch_params = [p.clone().requires_grad_(True) for p in p0]
    opt = torch.optim.Adam(torch_params, lr=0.05, betas=(0.8, 0.99), eps=1e-6)
    params, state = [p.clone() for p in p0], {}
    for step in range(4):
        grads = [_rand(3, 2, seed=10 + step), _rand(4, seed=20 + step)]
        before = [g.clone() for g in grads], [p.clone() for p in params]
        params, state = correct_ns["adam_update"](params, grads, state, 0.05, betas=(0.8, 0.99), eps=1e-6)
        assert all(torch.equal(a, b) for a, b in zip(before[0], grads))
        for tp, g in zip(torch_params, grads):
            tp.grad = g.clone()
        opt.step()
    for mine, ref in zip(params, torch_params):
        assert torch.allclose(torch.as_tensor(mine), ref.detach(), rtol=1e-10, atol=1e-12)


def test_correct_symbolic_capable(correct_ns):
    sp = pytest.importorskip("sympy")
    m, l, k, E, p = sp.symbols("m l k E p", positive=True)
    ratio = correct_ns["lora_bytes"](m, l, k) / correct_ns["full_update_bytes"](m, l)
    assert sp.simplify(ratio - sp.sympify(correct_ns["ANSWERS"]["q1d_ratio"], locals=dict(m=m, l=l, k=k))) == 0
    assert sp.simplify(correct_ns["soft_prompt_params"](5, E) - 5 * E) == 0
    assert sp.expand(correct_ns["channel_prune_compute_fraction"](p) - (1 - p) ** 2) == 0
    syms = dict(zip(["C", "A", "B", "alpha", "beta", "C0"],
                    sp.symbols("C A B alpha beta C0", positive=True)))
    N_opt, D_opt = correct_ns["chinchilla_optimal"](*syms.values())
    for key, expr in (("q5b_N_opt", N_opt), ("q5b_D_opt", D_opt)):
        assert sp.simplify(expr - sp.sympify(correct_ns["ANSWERS"][key], locals=syms)) == 0, key


def test_correct_functions_accept_plausible_args(correct_ns):
    assert set(PLAUSIBLE_ARGS) == set(CONTRACT_NAMES)
    for name, make_args in PLAUSIBLE_ARGS.items():
        correct_ns[name](*make_args())


def test_correct_notebook_matches_module(correct_ns):
    nb_ns = _exec_notebook(CORRECT_NB)
    assert nb_ns["ANSWERS"] == correct_ns["ANSWERS"]
    assert nb_ns["WRITTEN"] == correct_ns["WRITTEN"]


# ---------------------------------------------------------------------------- (d) template


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_template_function_raises_not_implemented(template_ns, name):
    with pytest.raises(NotImplementedError):
        template_ns[name](*PLAUSIBLE_ARGS[name]())


def test_template_notebook_runs_and_is_unanswered():
    ns = _exec_notebook(TEMPLATE_NB)
    assert all(v is None for v in ns["ANSWERS"].values())
    assert all(v == "" for v in ns["WRITTEN"].values())
    with pytest.raises(NotImplementedError):
        ns["lora_grads"](*PLAUSIBLE_ARGS["lora_grads"]())
