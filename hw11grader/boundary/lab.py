"""The grader's experiments, run in the grader's process with the submission behind the boundary.

``experiments/*.py`` (numpy only) own every loop, loss and measurement; they
reach the submission only through a ``Lab``, whose methods are requests to
the boundary (see ``experiments/__init__.py`` for the protocol). A
submission can therefore change an experiment only through the values its
functions return, whatever it does inside its own process.

``run_experiment`` is what ``checking.Sub.experiment`` calls: it gives the
experiment one time budget (the check's), turns the submission's faults
into outcomes with deterministic messages, and lets the grader's own faults
through as what they are (a grader error).
"""
from __future__ import annotations

import importlib
import re
import time

from hw11grader.outcomes import Missing, Outcome, StudentError, StudentTimeout

PREFIX = "while the grader's experiment ran your code: "
_NOT_YET = re.compile(r"\(not implemented yet(; [^)]*)?\)$")


class Lab:
    """The submission's functions and kept objects, as an experiment sees them."""

    def __init__(self, boundary, *, seed: int, timeout: float | None = None, label: str = "experiment"):
        self.boundary = boundary
        self.seed = seed
        self.timeout = timeout
        self.label = label
        self.deadline = None if timeout is None else time.monotonic() + timeout

    def _remaining(self):
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self._timed_out()
        return left

    def _timed_out(self):
        return StudentTimeout(f"{self.label} did not finish within {self.timeout:g} s", fatal=True)

    def _send(self, fn, *args, **kwargs):
        return self._guard(fn, *args, timeout=self._remaining(), **kwargs)

    def _guard(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except StudentTimeout as e:
            # the limit that fired is the experiment's (its remainder varies run to run): say so
            raise StudentTimeout(f"{self.label} did not finish within {self.timeout:g} s "
                                 f"({e.message})", fatal=True) if self.timeout else e
        except Missing as e:
            if _NOT_YET.search(e.message):  # say which experiment needs it, as for a direct call
                raise Missing(_NOT_YET.sub(f"(not implemented yet; {self.label} needs it)", e.message),
                              fatal=e.fatal) from None
            raise
        except StudentError as e:
            raise type(e)(PREFIX + e.message, fatal=e.fatal) from None

    # -- the protocol -------------------------------------------------------
    def call(self, name, *args, keep=None, watch=False, **kwargs):
        """``watch=True``: returns ``(result, mutated)``, ``mutated[i]`` telling whether the call
        changed (in place) a tensor of its i-th argument."""
        out = self._send(self.boundary.call, name, args, kwargs, seed=self.seed, keep=keep, watch=watch)
        if watch:
            if type(out) is not dict or type(out.get("mutated")) is not list:
                from experiments import BadValue
                raise BadValue(f"{name}: the submission's process sent back a malformed reply")
            return out.get("result"), [x is True for x in out["mutated"]]
        return out

    def map(self, name, calls, keep=None, drop=()):
        return self._send(self.boundary.map, name, calls, seed=self.seed, keep=keep, drop=list(drop))

    def map_start(self, name, calls, keep=None, drop=()):
        """``map``, sent now; ``map_finish(pending)`` reads its results (see the protocol)."""
        return self._send(self.boundary.map_start, name, calls, seed=self.seed, keep=keep, drop=list(drop))

    def map_finish(self, pending):
        return self._guard(self.boundary.map_finish, pending)

    def method(self, handle, name, *args, **kwargs):
        return self._send(self.boundary.call, name, args, kwargs, seed=self.seed, target=handle)

    def inspect(self, handle, attrs=()):
        return self._send(self.boundary.inspect, handle, attrs, seed=self.seed)

    def vjp(self, handle, args, cotangent):
        return self._send(self.boundary.vjp, handle, args, cotangent, seed=self.seed)

    def assign(self, handle, values):
        return self._send(self.boundary.assign, handle, values, seed=self.seed)

    def drop(self, handles):
        handles = [h for h in handles if h is not None]
        if handles:
            self._send(self.boundary.drop, handles)


def _experiment(qualified: str):
    module, _, function = qualified.partition(".")
    if not (module.isidentifier() and function.isidentifier()) or function.startswith("_"):
        raise ValueError(f"not an experiment: {qualified!r}")
    return getattr(importlib.import_module("experiments." + module), function)


def run_experiment(boundary, qualified: str, args=(), kwargs=None, *, seed: int, timeout: float | None):
    """Run the grader's experiment ``module.function`` with the submission behind ``boundary``.

    Raises the submission's outcomes (a value it returned that the experiment
    cannot use is a ``StudentError``); any other exception is the grader's.
    """
    from experiments import BadValue

    from hw11grader.boundary import describe_call

    fn = _experiment(qualified)
    lab = Lab(boundary, seed=seed, timeout=timeout, label=f"the grader's experiment {qualified}")
    try:
        return fn(lab, *args, **(kwargs or {}))
    except BadValue as e:  # the experiment refused a value the submission returned
        call = describe_call(qualified, args, kwargs)
        raise StudentError(f"the grader's experiment {call} raised {PREFIX}ValueError: {e}") from None
    except Outcome:
        raise
    finally:  # a request it started and, having stopped at a failure, never finished
        settle = getattr(boundary, "settle", None)
        if settle is not None:
            settle()


def local_lab(names: dict, seed: int = 0) -> Lab:
    """A Lab over plain Python objects in this process (the reference cache, tests, scripts).

    The calls make the same wire round trip as in grading (numpy in, torch
    tensors to the functions, plain data back), so the reference runs the
    experiments exactly as a submission does.
    """
    from hw11grader.boundary import InProcessBoundary

    boundary = InProcessBoundary(dict(names), label="reference")
    boundary.start()
    return Lab(boundary, seed=seed, label="the experiment")
