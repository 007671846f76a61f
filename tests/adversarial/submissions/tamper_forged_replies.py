"""Wraps the child program's call operation: well-framed replies, with the run's nonce, that say whatever it likes."""
import sys

import torch

_child = sys.modules["__main__"]
_wire = sys.modules["wire"]
_call = _child.OPS["call"]
FORGED = {
    "param_bytes": {"ok": False, "kind": "child_fault", "message": "the grader's program failed"},
    "petaflop_days": {"ok": False, "kind": "bad_request", "message": "the grader sent nonsense"},
    "compute_for_params": {"ok": False, "kind": "no such kind"},
    "tokens_to_books": {"ok": True, "value": _wire.Handle(1, "Tensor")},
    "qk_matrix": {"ok": "yes", "value": 1.0},
    "ov_matrix": {"ok": False, "kind": "raised", "message": ["not", "text"], "traceback": {"x": 1}, "fatal": "yes"},
    "attention_mix": {"ok": False, "kind": "not_implemented", "function": ["attention_mix"], "message": None},
}


def _forged_call(request):
    reply = FORGED.get(request.get("name"))
    return dict(reply) if reply is not None else _call(request)


_child.OPS["call"] = _forged_call


# honest functions: the checks of Q3 and Q5 call them
def qk_matrix(W_Q, W_K):
    return W_Q.T @ W_K


def ov_matrix(W_O, W_V):
    return W_O @ W_V


def attention_mix(X, A):
    return X @ A.T


def param_bytes(n_params, bytes_per_param=2):
    return n_params * bytes_per_param


def petaflop_days(flops):
    return flops / (1e15 * 86400)


def compute_for_params(N, a=0.1, e=0.5):
    return (N / a) ** (1 / e)


def tokens_to_books(tokens, tokens_per_word=1.4, words_per_page=400, pages_per_book=300):
    return tokens / tokens_per_word / words_per_page / pages_per_book


ANSWERS = {"q5c_C": (1e14 / 0.1) ** (1 / 0.5)}  # (compute_for_params(1e14), written out)
