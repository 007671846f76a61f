# HW11 correct solution: a fixture submission for the grader's own tests.
# Generated from tools/template/hw11_master.py by tools/make_template.py; edit the master and
# regenerate (python tools/make_template.py) rather than this file.


# %% [markdown]
# # HW11: LoRA, transformer circuits, batch-size scaling, Chinchilla, soft prompts, pruning and quantization
#
# This notebook (or the equivalent module `hw11.py`) is your submission. Fill in every
# function that currently says `raise NotImplementedError`, then the `ANSWERS` and
# `WRITTEN` dictionaries in the last cells. Do not rename anything: the autograder looks up
# the functions, the class and the two dictionaries by their exact names and calls them with
# the signatures given here. Keep every default argument as it is.
#
# **What is auto-graded.** Every function and class below, plus the short answers in
# `ANSWERS` (choice codes, booleans, numbers and formulas). Formulas are strings such as
# `"(a + b)/c"` built from the symbol names given in the comment next to each key, numbers,
# `+ - * / **`, parentheses and `sqrt`, `log`, `exp`, `Min`, `Max`. Arrays reach your
# functions as `torch.Tensor` of dtype float64; you may return tensors, numpy arrays or
# (nested) lists of numbers.
#
# **What is graded by hand.** The explanations in `WRITTEN`. A couple of sentences per key
# is plenty. Instead of the dict you may also write an answer in a markdown cell whose first
# line starts with `**WRITTEN q1b**` (any key): the rest of that cell is the answer. If both
# give the same key, the dict wins.
#
# **Checking your work.** From the grader's folder run `python grader.py` (it picks up
# `hw11.ipynb` or `hw11.py` in the current folder; you can also name the file, and
# `-q q1 q5` restricts the run to some questions). Inside this notebook, run
# `import grader; grader.check("q1")` for one question. The self-check runs the public checks
# only; hidden checks run at grading time.
#
# Tips: long experiments of your own can go in a cell tagged `skip-grading` (the grader does
# not run it). Lines starting with `%` or `!` are skipped by the grader. There is no Q2.


# %%
import math

import numpy as np
import torch
import torch.nn as nn


# %% [markdown]
# ## Q1 LoRA
#
# LoRA fine-tunes a pretrained weight matrix `W0` (shape `m x l`) by learning a low-rank
# correction: the fine-tuned weight is `W = W0 + A @ B` with `A` of shape `m x k` and `B` of
# shape `k x l`, where the rank `k` is much smaller than `m` and `l`. Only `A` and `B` are
# trained; `W0` stays frozen. A linear layer computes `y = x @ W.T`.
#
# **(a)** After fine-tuning with LoRA, your model still underfits the training data. Which
# LoRA setting would you change first? Answer in `ANSWERS["q1a"]`.
#
# **(b)** Suppose you start fine-tuning with both `A` and `B` equal to zero. Write `G` for
# the gradient of the loss with respect to `W`. Derive the gradients with respect to `A` and
# `B` (implement them in `lora_grads`) and explain what gradient descent does from this
# starting point (`WRITTEN["q1b"]`).
#
# **(c)** Now suppose both `A` and `B` are initialised randomly (for example with Xavier
# initialisation). Why is that a poor choice (`WRITTEN["q1c"]`)? Implement `lora_init`, an
# initialisation that avoids the problems of (b) and (c).
#
# **(d)** At 4 bytes per number, how much memory do `A` and `B` take, and how much does a
# full-rank update of `W0` take? Implement `lora_bytes` and `full_update_bytes` and give the
# ratio LoRA / full as a formula in `ANSWERS["q1d_ratio"]`.
#
# Finally, implement `LoRALinear`, a linear layer that wraps a frozen `W0` with trainable
# factors `A` and `B`.


# %%
def lora_init(m, k, l, generator=None):
    """Initial LoRA factors (A, B) with A: m x k and B: k x l, as float64 tensors.

    At initialisation A @ B must be exactly zero, yet the very first gradient step must
    move at least one factor. `generator` is an optional torch.Generator for the random part.
    """
    A = torch.randn(m, k, generator=generator, dtype=torch.float64) / math.sqrt(k)
    B = torch.zeros(k, l, dtype=torch.float64)
    return A, B


def lora_grads(G, A, B):
    """Gradients (dA, dB) of the loss w.r.t. A (m x k) and B (k x l).

    G is dL/dW (m x l) for W = W0 + A @ B.
    """
    return G @ B.T, A.T @ G


def lora_bytes(m, l, k, bytes_per_param=4):
    """Bytes needed to store A (m x k) and B (k x l).

    Use only + - * / ** so that it also works with sympy symbols.
    """
    return bytes_per_param * k * (m + l)


def full_update_bytes(m, l, bytes_per_param=4):
    """Bytes needed to store a full-rank update of an m x l matrix.

    Use only + - * / ** so that it also works with sympy symbols.
    """
    return bytes_per_param * m * l


class LoRALinear(nn.Module):
    """Linear layer y = x @ (W0 + A @ B).T with W0 (m x l) frozen and A, B trainable.

    Attributes: W0 (a buffer, or a tensor that does not require grad), A (m x k) and
    B (k x l) as nn.Parameter -- the only trainable parameters. At construction the layer
    must compute exactly x @ W0.T. forward maps (..., l) to (..., m).
    """

    def __init__(self, W0, k):
        super().__init__()
        W0 = torch.as_tensor(W0).detach().clone()
        if not torch.is_floating_point(W0):
            W0 = W0.to(torch.float64)
        m, l = W0.shape
        self.register_buffer("W0", W0)
        A, B = lora_init(m, k, l)
        self.A = nn.Parameter(A.to(W0.dtype))
        self.B = nn.Parameter(B.to(W0.dtype))

    def forward(self, x):
        return x @ (self.W0 + self.A @ self.B).T


# %% [markdown]
# ## Q3 Transformer circuits
#
# Conventions for this question: the residual stream `X` has shape `d_model x n_ctx`, one
# column per token. An attention pattern `A` is `n_ctx x n_ctx`, with `A[i, j]` the weight
# that destination token `i` gives to source token `j`.
#
# **(a)** A transformer with no layers embeds the one-hot tokens `T` (`n_vocab x n_ctx`) with
# `W_E` (`d_model x n_vocab`) and unembeds with `W_U` (`n_vocab x d_model`).
# (i) Write its logits (`zero_layer_logits`). (ii) What kind of algorithm can such a model
# implement, and what information can it use to predict the next token? (`WRITTEN["q3a_ii"]`)
#
# **(b)** Multi-head attention is usually described as "concatenate the head outputs and
# apply one output matrix". (i) Show that this is the same as giving each head its own slice
# `W_O^h` of the output matrix and adding the per-head contributions
# (`concat_output_matrix`, `multihead_concat`, `multihead_sum`). (ii) What is each view good
# for? (`WRITTEN["q3b_ii"]`)
#
# **(c)** (i) With per-head query and key matrices `W_Q`, `W_K` (`d_head x d_model`), write
# the attention score between tokens `i` and `j` as a bilinear form in the residual vectors,
# with a single `d_model x d_model` matrix `W_QK` (`qk_matrix`, `attention_scores`).
# (ii) For `d_model = 3`, say what a head "looks for" when `W_QK` is the identity; is zero
# except entry (1, 1) = 1; is `diag(1, 0, -1)`; is minus the identity (`ANSWERS["q3c"]`).
#
# **(d)** (i) Show that `X @ A.T` replaces each token's column by an attention-weighted
# average of the columns (`attention_mix`). (ii) Write the residual stream after one
# attention-only layer with several heads, each with its own `W_OV = W_O @ W_V` and pattern
# (`ov_matrix`, `one_layer_residual`). (iii) Argue that whatever a head writes lies in the
# column space of its `W_OV`.
#
# **(e)** (i) Bound the rank of `W_OV` in terms of `d_head` and `d_model`
# (`ANSWERS["q3e_rank_bound"]`). (ii) Use the compact singular value decomposition of `W_OV`
# to write `W_OV @ x` as a sum over singular directions (`read_write_subspaces`).
# (iii) Identify the subspace a head reads from and the one it writes to, and what happens
# to an input orthogonal to the read subspace. (iv) How is the read subspace related to
# `W_V`? (`WRITTEN["q3e_iv"]`) (v) Describe a head as a communication channel: what decides
# what is read, how strongly, where it is written, and from which tokens
# (`WRITTEN["q3e_v"]`).


# %%
def zero_layer_logits(W_E, W_U, T):
    """Logits of the zero-layer model, n_vocab x n_ctx.

    W_E: d_model x n_vocab, W_U: n_vocab x d_model, T: n_vocab x n_ctx (one-hot columns).
    """
    return W_U @ W_E @ T


def concat_output_matrix(W_O_heads):
    """Concatenate a list of H output matrices (each d_model x d_head) side by side.

    Returns W_O_H of shape d_model x (H * d_head).
    """
    return torch.cat(list(W_O_heads), dim=1)


def multihead_sum(r_heads, W_O_heads):
    """Sum over heads of W_O_heads[h] @ r_heads[h] (each r is d_head x n_ctx).

    Returns d_model x n_ctx.
    """
    return sum(W_O @ r for W_O, r in zip(W_O_heads, r_heads))


def multihead_concat(r_heads, W_O_H):
    """W_O_H (d_model x H*d_head) applied to the head outputs stacked vertically.

    Returns d_model x n_ctx.
    """
    return W_O_H @ torch.cat(list(r_heads), dim=0)


def qk_matrix(W_Q, W_K):
    """W_QK (d_model x d_model) from W_Q, W_K (each d_head x d_model)."""
    return W_Q.T @ W_K


def attention_scores(X, W_QK):
    """Scores S (n_ctx x n_ctx) with S[i, j] = X[:, i] @ W_QK @ X[:, j].

    X: d_model x n_ctx (one column per token).
    """
    return X.T @ W_QK @ X


def ov_matrix(W_O, W_V):
    """W_OV (d_model x d_model) from W_O (d_model x d_head) and W_V (d_head x d_model)."""
    return W_O @ W_V


def attention_mix(X, A):
    """Attention-weighted mix M (d_model x n_ctx): column i is sum_j A[i, j] * X[:, j].

    X: d_model x n_ctx, A: n_ctx x n_ctx (A[i, j]: weight from destination i to source j).
    """
    return X @ A.T


def one_layer_residual(X0, W_OVs, As):
    """Residual stream after one attention-only layer: X0 plus every head's output.

    X0: d_model x n_ctx; W_OVs: list of d_model x d_model; As: list of n_ctx x n_ctx.
    """
    out = X0.clone()
    for W_OV, A in zip(W_OVs, As):
        out = out + W_OV @ X0 @ A.T
    return out


def read_write_subspaces(W_OV, tol=1e-9):
    """Compact SVD of W_OV: (V, sigma, U) keeping singular values > tol * sigma_max.

    V: d_model x r (read basis, orthonormal columns), sigma: r, U: d_model x r (write
    basis), so that W_OV @ x == U @ diag(sigma) @ V.T @ x.
    """
    U, S, Vh = torch.linalg.svd(W_OV, full_matrices=False)
    keep = S > tol * S.max()
    return Vh[keep].T, S[keep], U[:, keep]


# %% [markdown]
# ## Q4 Batch size and the optimal learning rate
#
# How should the learning rate change when the batch size changes? You answer this
# experimentally. The grader owns the training loops (data, initialisation, batch order,
# number of steps, the network) and plugs your update rules into them; its feedback shows
# your learning-rate sweeps, the optimal learning rate per batch size and the fitted
# exponent. You may of course run your own sweeps here (tag long cells `skip-grading`).
#
# **(a)** Linear regression trained with minibatch SGD, loss `mean((X @ w - y)**2) / 2`.
# For several batch sizes, sweep the learning rate and record the final loss. How does the
# loss depend on the learning rate, and how does the best learning rate grow with the batch
# size? (`linreg_grad`, `sgd_update`, `optimal_lr`, `fit_power_law`; `ANSWERS["q4a_law"]`,
# `WRITTEN["q4a"]`)
#
# **(b)** Repeat with a small MLP trained by SGD. What is similar and what differs?
# (`ANSWERS["q4b_law"]`, `WRITTEN["q4b"]`)
#
# **(c)** Repeat with Adam, on both tasks. How does the best learning rate depend on the
# batch size now, and why might Adam behave differently? `ANSWERS["q4c_law"]` is about the
# MLP trained with Adam; the grader's feedback shows your sweeps for both tasks.
# (`adam_update`; `ANSWERS["q4c_law"]`, `WRITTEN["q4c"]`)


# %%
def linreg_grad(w, X, y):
    """Gradient of L(w) = mean((X @ w - y)**2) / 2 over the batch.

    w: d, X: n x d, y: n. Returns a tensor shaped like w.
    """
    return X.T @ (X @ w - y) / y.shape[0]


def sgd_update(params, grads, lr):
    """One SGD step: a new list [p - lr * g]. Must not modify the inputs in place."""
    return [p.detach() - lr * g.detach() for p, g in zip(params, grads)]


def adam_update(params, grads, state, lr, betas=(0.9, 0.999), eps=1e-8):
    """One step of Adam exactly as torch.optim.Adam (bias-corrected, no weight decay).

    params, grads: lists of tensors. state: {} at the first step, otherwise the dict you
    returned at the previous step (its content is up to you). Returns (new_params, new_state)
    and must not modify params, grads or state in place.
    """
    beta1, beta2 = betas
    step = state.get("step", 0) + 1
    if "m" in state:
        ms, vs = state["m"], state["v"]
    else:
        ms = [torch.zeros_like(p) for p in params]
        vs = [torch.zeros_like(p) for p in params]
    new_params, new_ms, new_vs = [], [], []
    for p, g, m, v in zip(params, grads, ms, vs):
        p, g = p.detach(), g.detach()
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1 ** step)
        v_hat = v / (1 - beta2 ** step)
        new_params.append(p - lr * m_hat / (v_hat.sqrt() + eps))
        new_ms.append(m)
        new_vs.append(v)
    return new_params, {"step": step, "m": new_ms, "v": new_vs}


def optimal_lr(lrs, final_losses):
    """The learning rate with the lowest final loss, ignoring NaN/inf (diverged) runs.

    Returns None if every run diverged.
    """
    best_lr, best_loss = None, math.inf
    for lr, loss in zip(lrs, final_losses):
        loss = float(loss)
        if math.isfinite(loss) and loss < best_loss:
            best_lr, best_loss = float(lr), loss
    return best_lr


def fit_power_law(xs, ys):
    """Least-squares fit of log y = exponent * log x + log coefficient.

    Returns (exponent, coefficient), so that y is about coefficient * x**exponent.
    """
    log_x = np.log(np.asarray(xs, dtype=np.float64))
    log_y = np.log(np.asarray(ys, dtype=np.float64))
    exponent, intercept = np.polyfit(log_x, log_y, 1)
    return float(exponent), float(np.exp(intercept))


# %% [markdown]
# ## Q5 Chinchilla and the cost of scale
#
# Model the loss of a model with `N` parameters trained on `D` tokens as
# `L(N, D) = A / N**alpha + B / D**beta + L0`; training costs `C = C0 * N * D` FLOPs.
# Fitted values: `alpha = 0.34`, `beta = 0.28`, `A = 406.4`, `B = 410.7`, `C0 = 6`.
#
# **(b)** For a fixed compute budget `C`, find the `N` and `D` that minimise the loss, as
# formulas (`chinchilla_optimal`, `ANSWERS["q5b_N_opt"]`, `ANSWERS["q5b_D_opt"]`) and
# numerically for the fitted values (how do they scale with `C`?).
#
# For the remaining parts, use the simpler fitted laws `N = 0.1 * C**0.5` and
# `D = 1.7 * C**0.5`, and implement the helper functions below (their default arguments are
# the homework's assumptions). Put each number in `ANSWERS` (the last cell); computing it
# by calling your functions is encouraged.
#
# **(c)** How much compute and how many tokens would a model with `1e14` parameters need?
# **(d)** How many books is that many tokens (1.4 tokens per word, 400 words per page,
# 300 pages per book)? Compare with the size of a large library.
# **(e)** How many bytes do 1e9 and 1e12 parameters take at 2 bytes each, and how many
# 100 GB GPUs are needed just to hold 1e12 parameters?
# **(f)** What does it cost per year to store 1e14 parameters (2 bytes each) on SSD at
# $5e-5 per MB and in DRAM at $4e-3 per MB?
# **(g)** Generating a token needs every parameter read from memory at least once. At a
# memory bandwidth of 4.8e12 bytes/s, what is the minimal time per token for 1e14 and for
# 1.75e11 parameters?
# **(h)** Express compute in petaFLOP-days. At 1.98e15 FLOP/s per GPU and $1.50 per GPU-hour,
# what did a 3640 petaFLOP-day training run cost; what would 1e30 FLOPs cost, and how many
# days would it take on 3e7 GPUs?
# **(j)** At 2 FLOPs per parameter per token, what does generating 1e6 tokens with a 1e12
# parameter model cost? Selling tokens at $120 per million, how many tokens (and how many
# 1000-word essays at 1.4 tokens per word) must be sold to recover $1e9?
# **(k)** Landauer's principle: erasing one bit costs at least 3e-21 J. Assuming 32 bits are
# erased per FLOP, what is the minimal power at 1.98e15 FLOP/s, and how far above it is a
# 700 W GPU?
# **(l)** A training run emitted 552 t of CO2. What would offsetting it cost at $112 per t,
# and how many burgers (50 kg CO2 per kg of beef, 0.113 kg of beef per burger) emit as much?


# %%
def chinchilla_optimal(C, A, B, alpha, beta, C0):
    """(N_opt, D_opt) minimising A / N**alpha + B / D**beta subject to C = C0 * N * D.

    Use only + - * / ** so that it also works with sympy symbols.
    """
    N_opt = (alpha * A / (beta * B * C0 ** beta)) ** (1 / (alpha + beta)) * C ** (beta / (alpha + beta))
    D_opt = C / (C0 * N_opt)
    return N_opt, D_opt


def compute_for_params(N, a=0.1, e=0.5):
    """Compute C (FLOPs) for N parameters, inverting the fitted law N = a * C**e."""
    return (N / a) ** (1 / e)


def tokens_for_compute(C, b=1.7, e=0.5):
    """Training tokens D for compute C with the fitted law D = b * C**e."""
    return b * C ** e


def tokens_to_books(tokens, tokens_per_word=1.4, words_per_page=400, pages_per_book=300):
    """Number of books holding that many tokens."""
    return tokens / tokens_per_word / words_per_page / pages_per_book


def param_bytes(n_params, bytes_per_param=2):
    """Bytes needed to hold n_params parameters."""
    return n_params * bytes_per_param


def gpus_to_store(n_params, gpu_bytes=100e9, bytes_per_param=2):
    """Whole number of GPUs (int) needed just to hold the parameters (round up)."""
    return int(math.ceil(n_params * bytes_per_param / gpu_bytes))


def storage_cost_per_year(n_params, dollars_per_mb, bytes_per_param=2):
    """Dollars per year to store the parameters, with 1 MB = 1e6 bytes."""
    return n_params * bytes_per_param / 1e6 * dollars_per_mb


def seconds_per_token(n_params, bandwidth=4.8e12, bytes_per_param=2):
    """Seconds to stream every parameter from memory once (bandwidth in bytes/s)."""
    return n_params * bytes_per_param / bandwidth


def petaflop_days(flops):
    """FLOPs expressed in petaFLOP-days (1e15 FLOP/s for one day)."""
    return flops / (1e15 * 86400)


def training_cost(flops, gpu_flops=1.98e15, dollars_per_gpu_hour=1.5):
    """Dollars to perform `flops` FLOPs on GPUs running at full utilisation."""
    return flops / gpu_flops / 3600 * dollars_per_gpu_hour


def training_days(flops, n_gpus, gpu_flops=1.98e15):
    """Wall-clock days to perform `flops` FLOPs on n_gpus GPUs at full utilisation."""
    return flops / (n_gpus * gpu_flops) / 86400


def inference_cost(n_params, n_tokens, gpu_flops=1.98e15, dollars_per_gpu_hour=1.5):
    """Dollars to generate n_tokens tokens, at 2 FLOPs per parameter per token."""
    return training_cost(2 * n_params * n_tokens, gpu_flops, dollars_per_gpu_hour)


def tokens_to_recoup(dollars, dollars_per_million_tokens=120):
    """Number of tokens that must be sold to earn `dollars`."""
    return dollars / dollars_per_million_tokens * 1e6


def landauer_power(flops_per_s, bits_per_flop=32, joules_per_bit=3e-21):
    """Minimal power in watts allowed by Landauer's principle."""
    return flops_per_s * bits_per_flop * joules_per_bit


def carbon_cost(t_co2, dollars_per_t=112):
    """Dollars to offset t_co2 tonnes of CO2."""
    return t_co2 * dollars_per_t


def burgers(t_co2, kg_co2_per_kg_beef=50, kg_beef_per_burger=0.113):
    """Number of beef burgers whose production emits t_co2 tonnes of CO2."""
    return t_co2 * 1000 / kg_co2_per_kg_beef / kg_beef_per_burger


# %% [markdown]
# ## Q6 Soft prompting
#
# A frozen GPT-style model is adapted to a task by prepending `K = 5` learned vectors (a
# soft prompt) to the embedded input; each vector has the embedding size `E`. The model is
# trained with next-token prediction: the target at output position `t` is the input token
# at position `t + 1`.
#
# **(a)** In a training example the chain of thought occupies input positions 51 to 70, the
# answer is at position 71 and a newline at position 72. The loss should cover exactly the
# chain of thought, the answer and the newline. Which output positions enter the loss?
# (`loss_output_positions`, `ANSWERS["q6a"]`)
#
# **(b)** How many parameters are trained? (`soft_prompt_params`, `ANSWERS["q6b"]`)
#
# **(c)** True or false, with a one-line reason each (`ANSWERS["q6c"]`, a list of four
# booleans in this order; reasons in `WRITTEN["q6c_i"]` ... `WRITTEN["q6c_iv"]`):
# (i) with a causal model and the same prompt for every example, the hidden states of the
# prompt positions can be computed once and reused; (ii) the best soft prompt of `K` tokens
# does at least as well on the training loss as the best hard (real-token) prompt of `K`
# tokens; (iii) if compute were free, full fine-tuning would always beat soft prompting;
# (iv) training a soft prompt for task A degrades a soft prompt already trained for task B
# on the same model. Implement `causal_self_attention` (one causal head) to see why (i) holds.
#
# **(d)** How would you use MAML-style meta-learning to get soft prompts that adapt quickly
# to new tasks? (`WRITTEN["q6d"]`)


# %%
def loss_output_positions(target_input_positions):
    """Output positions whose next-token targets are the given input positions.

    Targets are the inputs shifted left by one. Returns a sorted list of ints without
    duplicates; the given positions are >= 1.
    """
    return sorted({int(p) - 1 for p in target_input_positions})


def soft_prompt_params(n_prompt_tokens, embed_dim):
    """Number of trainable numbers in a soft prompt.

    Use only + - * / ** so that it also works with sympy symbols.
    """
    return n_prompt_tokens * embed_dim


def causal_self_attention(X, W_Q, W_K, W_V):
    """One causal attention head. X: n x d_model (ROWS are tokens), W_*: d_model x d_head.

    Scores are scaled by 1/sqrt(d_head); position i attends only to positions j <= i
    (softmax over j). Returns n x d_head.
    """
    Q, K, V = X @ W_Q, X @ W_K, X @ W_V
    n, d_head = X.shape[-2], W_Q.shape[-1]
    scores = Q @ K.transpose(-2, -1) / math.sqrt(d_head)
    future = torch.ones(n, n, dtype=torch.bool, device=X.device).triu(1)
    scores = scores.masked_fill(future, float("-inf"))
    return torch.softmax(scores, dim=-1) @ V


# %% [markdown]
# ## Q7 Pruning and quantization
#
# **(a) Pruning.** (i) Look at histograms of the weights of each layer of a trained network:
# what shape do they share? (ii) Why does that shape make pruning attractive? Implement
# `magnitude_prune`, which zeros the smallest-magnitude fraction of a weight matrix.
# (iii) How does accuracy change as the sparsity grows? (iv) Do layers differ in how
# sensitive they are to pruning? (v) In the grader's model, which layer is the most
# sensitive (`ANSWERS["q7a_most_sensitive"]`; the layers are named `"fc1"`, `"fc2"`, `"fc3"`)?
# (vi) Removing 30% of the channels of a layer (both its input and output channels) cuts
# its compute roughly in half. Why? (`channel_prune_compute_fraction`,
# `ANSWERS["q7a_compute_left"]`) (vii) Why does the measured latency drop by less than the
# compute? (viii) Compare fine-grained (individual weight) pruning with channel pruning.
# (ix) Which would you use to speed up a model on a phone? (`ANSWERS["q7a_phone"]`)
#
# **(b) Quantization.** (i)-(ii) With k-means quantization to 4 bits, how many distinct
# weight values remain, and with `n` bits? Implement `kmeans_quantize`. (iii) Why can a
# network keep its accuracy with so few distinct values? Linear quantization maps an
# integer `q` in `[q_min, q_max]` to the real value `r = S * (q - Z)`. (iv) Give the scale
# `S` that maps `[r_min, r_max]` onto `[q_min, q_max]` and (v) the zero point `Z` (give the
# exact value before rounding in `ANSWERS`; `linear_quant_params` returns it rounded).
# Implement `linear_quant_params`, `linear_quantize` and `linear_dequantize`.
# (vi) Why does the quantized model need no separate ReLU? (vii) Compare k-means and linear
# quantization.


# %%
def magnitude_prune(W, sparsity):
    """Return a copy of W with the round(sparsity * W.numel()) smallest-|w| entries set to 0.

    The other entries are unchanged; W itself is not modified.
    """
    n_zero = int(round(sparsity * W.numel()))
    flat = W.flatten().clone()
    flat[torch.argsort(flat.abs())[:n_zero]] = 0
    return flat.reshape(W.shape)


def channel_prune_compute_fraction(prune_ratio):
    """Fraction of multiply-accumulates left when `prune_ratio` of both the input and the
    output channels are removed.

    Use only + - * / ** so that it also works with sympy symbols.
    """
    return (1 - prune_ratio) ** 2


def kmeans_quantize(W, bits, n_iter=20, generator=None):
    """k-means (Lloyd) quantization of W to at most 2**bits values.

    Returns (codebook, labels): codebook holds the centroids; labels has W's shape and holds
    each weight's centroid index. Iterate until the assignments stop changing or n_iter
    iterations have run. `generator` is an optional torch.Generator if your initialisation
    is random.
    """
    w = W.flatten().to(torch.float64)
    centroids = torch.linspace(float(w.min()), float(w.max()), 2 ** bits, dtype=torch.float64)

    def nearest(c):
        return torch.argmin((w[:, None] - c[None, :]).abs(), dim=1)

    labels = nearest(centroids)
    for _ in range(n_iter):
        for j in range(centroids.numel()):
            members = labels == j
            if members.any():
                centroids[j] = w[members].mean()
        new_labels = nearest(centroids)
        if torch.equal(new_labels, labels):
            break
        labels = new_labels
    return centroids, labels.reshape(W.shape)


def linear_quant_params(r_min, r_max, q_min, q_max):
    """Scale and zero point (S, Z) mapping [r_min, r_max] onto [q_min, q_max].

    S = (r_max - r_min) / (q_max - q_min) and Z = round(q_min - r_min / S) as a Python int.
    """
    S = (float(r_max) - float(r_min)) / (float(q_max) - float(q_min))
    Z = int(round(float(q_min) - float(r_min) / S))
    return S, Z


def linear_quantize(r, S, Z, q_min, q_max):
    """Integers q = clamp(round(r / S) + Z, q_min, q_max) (an integer tensor shaped like r)."""
    r = torch.as_tensor(r, dtype=torch.float64)
    q = torch.clamp(torch.round(r / S) + Z, q_min, q_max)
    return q.to(torch.int64)


def linear_dequantize(q, S, Z):
    """Real values r = S * (q - Z)."""
    return S * (torch.as_tensor(q, dtype=torch.float64) - Z)


# %% [markdown]
# ## Short answers
#
# Fill in every value of `ANSWERS` (the comment after each key says what form is expected).
# Symbolic answers are strings using only the symbol names given for that key. Numbers may
# be computed by calling your functions above, or written as numbers or numeric strings
# such as `"1e30"`.


# %%
ANSWERS = {
    # Q1
    "q1a": "increase_rank",  # one of: "increase_rank", "decrease_rank", "freeze_more_layers", "lower_learning_rate"
    "q1d_ratio": "k*(m + l)/(m*l)",  # symbolic string in m, l, k: LoRA bytes / full-update bytes
    # Q3
    "q3c": {"identity": "similar_all_dims", "e11": "dim1_only", "diag_1_0_-1": "match_dim1_oppose_dim3", "neg_identity": "anti_aligned"},  # dict: keys "identity", "e11", "diag_1_0_-1", "neg_identity"; values among "similar_all_dims", "dim1_only", "match_dim1_oppose_dim3", "anti_aligned"
    "q3e_rank_bound": "d_head",  # symbolic string in d_head, d_model
    # Q4: how the optimal learning rate grows with the batch size
    "q4a_law": "linear",  # one of: "linear", "sqrt", "constant", "inverse"
    "q4b_law": "linear",  # one of: "linear", "sqrt", "constant", "inverse"
    "q4c_law": "sqrt",  # one of: "linear", "sqrt", "constant", "inverse" (for the MLP + Adam sweep)
    # Q5
    "q5b_N_opt": "(alpha*A/(beta*B*C0**beta))**(1/(alpha + beta))*C**(beta/(alpha + beta))",  # symbolic string in C, A, B, alpha, beta, C0
    "q5b_D_opt": "C/(C0*(alpha*A/(beta*B*C0**beta))**(1/(alpha + beta))*C**(beta/(alpha + beta)))",  # symbolic string in C, A, B, alpha, beta, C0
    "q5c_C": compute_for_params(1e14),  # number: FLOPs for N = 1e14
    "q5c_D": tokens_for_compute(compute_for_params(1e14)),  # number: tokens for N = 1e14
    "q5d_books": tokens_to_books(1e15),  # number of books
    "q5e_gpus": gpus_to_store(1e12),  # whole number of GPUs
    "q5f_ssd_dollars": storage_cost_per_year(1e14, 5e-5),  # number: dollars per year
    "q5f_dram_dollars": storage_cost_per_year(1e14, 4e-3),  # number: dollars per year
    "q5g_gpt6_seconds": seconds_per_token(1e14),  # number: seconds per token
    "q5g_gpt3_seconds": seconds_per_token(1.75e11),  # number: seconds per token
    "q5h_gpt3_dollars": training_cost(3640 * 1e15 * 86400),  # number: dollars
    "q5h_gpt6_dollars": training_cost(1e30),  # number: dollars
    "q5h_gpt6_days": training_days(1e30, 3e7),  # number: days
    "q5j_dollars": inference_cost(1e12, 1e6),  # number: dollars
    "q5j_essays": tokens_to_recoup(1e9) / (1000 * 1.4),  # number of essays
    "q5k_ratio": 700 / landauer_power(1.98e15),  # number: 700 W / Landauer minimum
    "q5l_burgers": burgers(552),  # number of burgers
    # Q6
    "q6a": list(range(50, 72)),  # sorted list of output positions (ints)
    "q6b": "5*E",  # symbolic string in E
    "q6c": [True, True, False, False],  # list of four booleans: (i), (ii), (iii), (iv)
    # Q7
    "q7a_compute_left": 0.49,  # number: fraction of compute left after removing 30% of channels
    "q7a_phone": "channel",  # one of: "channel", "fine_grained"
    "q7a_most_sensitive": "fc3",  # one of: "fc1", "fc2", "fc3" (the layers of the grader's model)
    "q7b_kmeans_values": 16,  # number of distinct values with 4-bit k-means
    "q7b_nbit_values": "2**n",  # symbolic string in n
    "q7b_scale": "(r_max - r_min)/(q_max - q_min)",  # symbolic string in r_min, r_max, q_min, q_max
    "q7b_zero_point": "q_min - r_min/S",  # symbolic string in r_min, r_max, q_min, q_max, S (exact value, before rounding)
}


# %% [markdown]
# ## Written answers (graded by hand)
#
# A sentence or two per key. Alternatively, write a markdown cell whose first line starts
# with `**WRITTEN q1b**` (any key); if both are given, this dict wins.


# %%
WRITTEN = {
    # Q1(b) why initialising both A and B to zero fails
    "q1b": "With A = B = 0 both gradients G @ B.T and A.T @ G are zero, so gradient descent never moves A or B and W stays equal to W0 forever.",
    # Q1(c) why Xavier-initialising both A and B is a bad idea
    "q1c": "Then A @ B is a sizeable random matrix, so training starts from a corrupted W0 instead of the pretrained model; keeping one factor at zero starts exactly at W0 while the other still lets gradients flow.",
    # Q3(a)(ii) what algorithm a zero-layer transformer implements
    "q3a_ii": "Every position is mapped independently by the same matrix W_U @ W_E, so the model can only use the current token: it is a bigram lookup table that ignores the rest of the context.",
    # Q3(b)(ii) pros and cons of the concatenation view and the additive view
    "q3b_ii": "Concatenation matches how attention is implemented (one big matmul, efficient); the additive view treats each head as an independent circuit writing into the residual stream, which is easier to interpret.",
    # Q3(e)(iv) how the read subspace relates to W_V
    "q3e_iv": "W_OV = W_O @ W_V only sees x through W_V @ x, so the read subspace lies in the row space of W_V, which has dimension at most d_head; hence the rank r <= d_head.",
    # Q3(e)(v) a head as a communication channel
    "q3e_v": "V selects which directions of the residual stream are read, sigma sets the gain of each, U chooses where in the residual stream the result is written, and the QK circuit decides from which tokens it is read.",
    # Q4(a) linear regression + SGD: what the sweeps show
    "q4a": "Each sweep is U-shaped (too small is slow, too large diverges); the optimal learning rate grows roughly linearly with the batch size because larger batches average out gradient noise.",
    # Q4(b) MLP + SGD: similarities and differences
    "q4b": "Qualitatively the same U-shaped sweeps and increasing optimal learning rate, but noisier, and the growth saturates at large batch sizes where curvature rather than noise limits the step.",
    # Q4(c) Adam: how the optimal learning rate depends on the batch size
    "q4c": "The dependence is much weaker: Adam normalises each step by the gradient's running RMS, so the step size barely changes with the noise level (the literature reports roughly square-root scaling).",
    # Q6(c)(i) one-line reason
    "q6c_i": "True: with a causal mask the prompt positions only attend to the prompt, which is identical for every example, so their hidden states can be cached.",
    # Q6(c)(ii) one-line reason
    "q6c_ii": "True: any hard prompt is a soft prompt whose vectors happen to be token embeddings, so the best soft prompt is at least as good on the training loss.",
    # Q6(c)(iii) one-line reason
    "q6c_iii": "False: full fine-tuning can overfit a small dataset or forget pretrained knowledge, so it is not guaranteed to do better on held-out data.",
    # Q6(c)(iv) one-line reason
    "q6c_iv": "False: the model is frozen and each task has its own prompt vectors, so training one prompt changes nothing the other prompt uses.",
    # Q6(d) MAML for soft prompts
    "q6d": "Meta-learn the prompt initialisation: for each task, adapt a copy of the prompt with a few gradient steps on its training split (inner loop), then update the shared initialisation from the validation losses through those steps (outer loop); for a new task, start from it and take a few steps.",
    # Q7(a)(i) common shape of the weight histograms
    "q7a_i": "The weights are centred at zero in a bell shape: most are small, with thin tails of a few large weights.",
    # Q7(a)(ii) why that helps pruning
    "q7a_ii": "Small weights contribute little to the outputs, so removing the many small ones by magnitude costs little accuracy.",
    # Q7(a)(iii) sparsity vs accuracy
    "q7a_iii": "Accuracy stays almost flat up to a moderate sparsity and then drops sharply once important weights start being removed.",
    # Q7(a)(iv) do layers differ in sensitivity
    "q7a_iv": "Yes: layers differ, typically the first and last layers (few parameters, direct access to input or output) are the most sensitive while large middle layers tolerate heavy pruning.",
    # Q7(a)(vii) why latency falls less than compute
    "q7a_vii": "Latency also includes fixed overheads (kernel launches, other layers, data movement) and is often memory-bound; smaller layers also use the hardware less efficiently.",
    # Q7(a)(viii) fine-grained vs channel pruning
    "q7a_viii": "Fine-grained pruning reaches higher sparsity at the same accuracy but leaves irregular sparse matrices that need special kernels or hardware; channel pruning is coarser but gives smaller dense layers with real speedups on any hardware.",
    # Q7(b)(iii) why low precision works
    "q7b_iii": "Networks are over-parameterised and robust to small perturbations, so rounding weights to a few values changes the outputs little, and fine-tuning or quantization-aware training recovers most of the rest.",
    # Q7(b)(vi) why the quantized model needs no separate ReLU
    "q7b_vi": "With r_min >= 0 the output range starts at zero, so clamping to [q_min, q_max] already clips negative values: the ReLU is absorbed into the quantization.",
    # Q7(b)(vii) k-means vs linear quantization
    "q7b_vii": "K-means uses a non-uniform codebook that fits the weight distribution (more accurate, compresses storage) but needs table lookups and float arithmetic; linear quantization uses a uniform grid that allows pure integer arithmetic with broad hardware support.",
}
