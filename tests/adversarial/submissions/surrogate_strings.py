"""Returns, raises, answers and writes strings holding lone surrogates.

"\ud800" is valid JSON but not valid Unicode: printed or written as UTF-8 it
raises UnicodeEncodeError. The grader must show it replaced, never crash.
"""
BAD = "bad \ud800 and \udfff"


class Holder:  # an object that cannot cross: it arrives as an opaque type name
    pass


def lora_bytes(m, l, k, bytes_per_param=4):
    return BAD


def full_update_bytes(m, l, bytes_per_param=4):
    raise ValueError(BAD)


def lora_init(m, k, l, generator=None):
    raise RuntimeError("\ud800")


def param_bytes(n_params, bytes_per_param=2):
    return {BAD: BAD}


def gpus_to_store(n_params, gpu_bytes=100e9, bytes_per_param=2):
    return [BAD, (BAD,)]


def chinchilla_optimal(C, A, B, alpha, beta, C0):
    return (BAD, BAD)


def compute_for_params(N, a=0.1, e=0.5):
    raise KeyError(BAD)


def tokens_for_compute(C, b=1.7, e=0.5):
    return Holder()


ANSWERS = {"q1a": BAD, "q5c_C": BAD, "q1d_ratio": BAD, BAD: BAD}
WRITTEN = {"q1b": "my answer: " + BAD, "q1c": "\udfff", BAD: BAD}
