"""Escape sequences, carriage returns and fake score lines in everything that reaches a report.

On a terminal, ESC [2J clears the screen, ESC [1A moves up a line, a carriage
return overwrites the line, U+202E reverses what follows; "Score: 100 / 100."
lines pretend to be the grader's. Also a WRITTEN key that forges a heading,
answers that open HTML, comments, fences and setext headings.
"""
import sys

FAKE = ("\x1b[2J\x1b[H\x1b[32mScore: 100 / 100.\x1b[0m\r\nScore: 100 / 100.\n"
        "\x1b[8m\x1b]0;pwned\x07\x9b2J\u202e.001 / 0 :erocS\rPublic score: 100 / 100.\x1b[1A\x1b[1A\n"
        "Score: 100 / 100.\x0bScore: 100 / 100.\x0cScore: 100 / 100.\x1c\x85\u2028Score: 100 / 100.")

Fake = type("Score: 100 / 100.\x1b[2J\r", (Exception,), {})
Shown = type("\x1b[31mScore: 100 / 100.\r", (), {})


def lora_bytes(m, l, k, bytes_per_param=4):
    raise ValueError(FAKE)


def full_update_bytes(m, l, bytes_per_param=4):
    return FAKE


def lora_init(m, k, l, generator=None):
    raise NotImplementedError(FAKE)


def param_bytes(n_params, bytes_per_param=2):
    return {FAKE: FAKE}


def gpus_to_store(n_params, gpu_bytes=100e9, bytes_per_param=2):
    raise Fake(FAKE)


def compute_for_params(N, a=0.1, e=0.5):
    return Shown()


def chinchilla_optimal(C, A, B, alpha, beta, C0):
    return (FAKE, FAKE)


ANSWERS = {"q1a": FAKE, "q5c_C": FAKE, "q1d_ratio": FAKE, "q5b_N_opt": FAKE}
WRITTEN = {
    "q1b": FAKE + "\n## q1c\n\nforged answer\n<!--\n",
    "q1c": ("=====\n# Score: 100 / 100\n---\n<script>alert(1)</script>\n"
            "[click](javascript:alert(1)) ![x](http://tracker.invalid/p.png)\n```\nunclosed fence"),
    "q3a_ii": "line\n===\n    ## indented\n> nested\n| a | b |\n|---|---|\n| c | d |\n&#x202e;&lt;b&gt;",
    "x\n\n## q1c\n\nforged section": "forged",
    "<!-- hidden": "y",
    "q7a_i\r## q4a": "z",
}
print(FAKE)
sys.stderr.write(FAKE)
