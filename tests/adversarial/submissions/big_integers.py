"""Lifts Python's integer digit limit in its own process and returns 4,500-digit integers.

It also patches its own copy of the wire encoder so that the integers are
really sent: the grader must refuse them on its side (on the JSON text,
before converting), as the student's bad value, never with a ValueError.
"""
import sys

sys.set_int_max_str_digits(0)
HUGE = 10 ** 4500 + 7

_wire = sys.modules.get("wire")
if _wire is not None and hasattr(_wire, "Encoder"):
    _encode = _wire.Encoder.encode

    def _unchecked(self, v, depth=0):
        if type(v) is int:
            return v
        return _encode(self, v, depth)

    _wire.Encoder.encode = _unchecked


def lora_bytes(m, l, k, bytes_per_param=4):
    return HUGE


def full_update_bytes(m, l, bytes_per_param=4):
    return -HUGE


def gpus_to_store(n_params, gpu_bytes=100e9, bytes_per_param=2):
    return HUGE


def param_bytes(n_params, bytes_per_param=2):
    return [HUGE, 1]


def compute_for_params(N, a=0.1, e=0.5):
    return 10 ** 400  # within the grader's own digit limit, beyond the wire's bound


def tokens_for_compute(C, b=1.7, e=0.5):
    raise ValueError(HUGE)  # the message is a 4,500-digit string: fine, but capped


def chinchilla_optimal(C, A, B, alpha, beta, C0):
    return (HUGE, HUGE)
