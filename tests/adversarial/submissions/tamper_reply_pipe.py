"""Its functions write garbage on the reply pipe (found in /proc/self/fd) before returning honest values."""
import fcntl
import json
import os
import struct

import torch


def _reply_pipes():
    fds = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            is_pipe = os.readlink(f"/proc/self/fd/{name}").startswith("pipe:")
            writable = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY
        except OSError:
            continue
        if is_pipe and writable and fd > 2:
            fds.append(fd)
    return fds


def _spray(data):
    for fd in _reply_pipes():
        try:
            os.write(fd, data)
        except OSError:
            pass


# honest functions: the checks of Q3 and Q5 call them
def ov_matrix(W_O, W_V):
    return W_O @ W_V


def attention_mix(X, A):
    return X @ A.T


def tokens_to_books(tokens, tokens_per_word=1.4, words_per_page=400, pages_per_book=300):
    return tokens / tokens_per_word / words_per_page / pages_per_book


def param_bytes(n_params, bytes_per_param=2):
    _spray(b"\xde\xad\xbe\xef" * 64)  # not a frame
    return n_params * bytes_per_param


def petaflop_days(flops):
    body = json.dumps({"ok": True, "value": 1.0, "nonce": "0" * 32}).encode()
    _spray(struct.pack(">II", len(body), 0) + body)  # a frame with a guessed nonce
    return flops / (1e15 * 86400)


def compute_for_params(N, a=0.1, e=0.5):
    _spray(struct.pack(">II", 2**31, 0))  # a header announcing 2 GB of JSON
    return (N / a) ** (1 / e)


def qk_matrix(W_Q, W_K):
    _spray(struct.pack(">II", 5, 0))  # a header: the real reply's first bytes become its JSON part
    return W_Q.T @ W_K


ANSWERS = {"q5c_C": (1e14 / 0.1) ** (1 / 0.5)}  # (compute_for_params(1e14), written out)
