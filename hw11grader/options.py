"""The limit options every grading command shares (``--time-limit``, ``--call-timeout``, ...)."""
from __future__ import annotations

from hw11grader.boundary import Limits


def add_limit_options(p):
    d = Limits()
    g = p.add_argument_group("limits")
    g.add_argument("--time-limit", type=float, default=d.submission_timeout, metavar="S",
                   help=f"wall-clock seconds for grading one submission (default {d.submission_timeout:g})")
    g.add_argument("--call-timeout", type=float, default=d.call_timeout, metavar="S",
                   help=f"seconds per call into the submission (default {d.call_timeout:g})")
    g.add_argument("--load-timeout", type=float, default=d.load_timeout, metavar="S",
                   help=f"seconds to load the submission (default {d.load_timeout:g})")
    g.add_argument("--memory-mb", type=int, default=d.sandbox.address_space_mb, metavar="MB",
                   help=f"address space of each child process and, as root, memory of all of them "
                        f"together (default {d.sandbox.address_space_mb})")


def limits_from(args) -> Limits:
    from dataclasses import replace
    d = Limits()
    return replace(d, submission_timeout=args.time_limit, call_timeout=args.call_timeout,
                   load_timeout=args.load_timeout,
                   sandbox=replace(d.sandbox, address_space_mb=args.memory_mb))
