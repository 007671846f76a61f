"""Replaces the child program's reply packer: for each function, hand-made bytes that no honest child sends."""
import json
import os
import struct
import sys

import torch

_child = sys.modules["__main__"]
_pack_reply, _call = _child.pack_reply, _child.OPS["call"]
_current = [None]


def _frame(tree, blobs=(), nblobs=None):
    body = json.dumps(tree).encode()
    data = struct.pack(">II", len(body), len(blobs) if nblobs is None else nblobs) + body
    for b in blobs:
        data += struct.pack(">Q", len(b)) + b
    return data


def _raw(nonce, name):
    def reply(value):
        return {"nonce": nonce, "ok": True, "value": value}
    if name == "param_bytes":  # a handle numbered by a string
        return _frame(reply({"$handle": "seven", "type": "Tensor"}))
    if name == "petaflop_days":  # an array whose dtype is a list (unhashable)
        return _frame(reply({"$array": 0, "dtype": ["float64"], "shape": [1]}), [b"\x00" * 8])
    if name == "compute_for_params":  # a handle numbered by null
        return _frame(reply({"$handle": None}))
    if name == "tokens_to_books":  # an expression whose kind is a list (unhashable)
        return _frame(reply({"$expr": [["Add"], []]}))
    if name == "qk_matrix":  # half a frame, then the process ends
        os.write(int(sys.argv[2]), _frame(reply(1.0))[:11])
        os._exit(0)
    if name == "ov_matrix":  # a JSON part longer than any frame may be
        return struct.pack(">II", 0xFFFFFFF0, 0)
    if name == "attention_mix":  # a blob longer than any frame may be
        return _frame(reply({"$array": 0, "dtype": "float64", "shape": [1]}), nblobs=1) + struct.pack(">Q", 2**40)
    return None


def _tracking_call(request):
    _current[0] = request.get("name")
    return _call(request)


def _packer(message):
    data = _raw(message.get("nonce"), _current[0])
    _current[0] = None
    return data if data is not None else _pack_reply(message)


_child.OPS["call"] = _tracking_call
_child.pack_reply = _packer


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
