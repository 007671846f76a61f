"""The machinery behind ``hw11grader.authoring``: ``@check``, ``given`` and ``Sub``.

``@check`` marks a function as a check (its spec); ``given`` is Hypothesis
under the grading profile and the fixed seed, with shrinking capped; ``Sub``
is the submission as a check sees it: calls through the boundary (never
directly), answers by key, grader experiments, feedback that cannot change a
verdict. Check authors import ``hw11grader.authoring``, not this module.
"""
from __future__ import annotations

import hashlib
import inspect
import time
from dataclasses import dataclass, field

import functools

import hypothesis
from hypothesis import HealthCheck, Verbosity, settings
from hypothesis import strategies as st  # noqa: F401  (re-exported for check authors)
from hypothesis import example  # noqa: F401

from hw11grader.judge import compare as expect  # noqa: F401  (expect.close, expect.parts, ...)
from hw11grader.boundary import AsNumpy  # noqa: F401
from hw11grader.outcomes import CURRENT_RUN, Abort, Failed, Missing, Outcome, StudentTimeout  # noqa: F401
from hw11grader.boundary.child.wire import Generator, Handle, Symbol  # noqa: F401

# One deterministic profile for grading: same examples on every run, no
# example database, no timing-dependent behaviour, nothing printed. Applied to
# each check by ``given`` below; no global Hypothesis profile is loaded.
GRADING = settings(
    derandomize=True, database=None, deadline=None, print_blob=False,
    max_examples=20, verbosity=Verbosity.quiet, report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
)

# After a property first fails, Hypothesis shrinks the input; past this many
# further examples the last failure is reported as it is (a count, not a
# clock, so that the report stays identical on every regrade).
SHRINK_EXAMPLES = 80


# The seed of every check's draws. Until the engine moved to judge/ (issue 11) the
# derandomized seed was, in effect, the digest of the runner's shrink wrapper,
# the same for every check; it is kept as this constant so that every regrade,
# and every recorded report (tests/golden/, tests/snapshots/), stays identical.
# A check's draws still differ from another's through its own strategies.
GRADING_SEED = int("0xc88863abcd8e89fd536d4f48f35380b112f72435bce50308"
                   "02a34177d87fb5a80a610649651f6bf66ad173ae7d94c66", 16)


def given(*args, **kwargs):
    """``hypothesis.given`` under the grading profile, with shrinking capped at ``SHRINK_EXAMPLES``.

    The body is wrapped once, here (``functools.wraps``: Hypothesis derives
    the derandomized seed from the body's source, name and signature, which
    the wrapper keeps); the cap's state lives on the current ``CheckRun``.
    """
    def decorate(fn):
        return hypothesis.seed(GRADING_SEED)(GRADING(hypothesis.given(*args, **kwargs)(_bounded_shrinking(fn))))

    return decorate


def _bounded_shrinking(body):
    from hw11grader.judge.tape import TapeMiss

    @functools.wraps(body)
    def bounded(*args, **kwargs):
        run = CURRENT_RUN.get()
        if run is None:  # called outside a grading (a test of a check): no cap
            return body(*args, **kwargs)
        if run.shrink_last is not None:
            run.shrink_after += 1
            if run.shrink_after > SHRINK_EXAMPLES:
                raise Abort(run.shrink_last)
        try:
            return body(*args, **kwargs)
        except Outcome as e:
            run.shrink_last = e
            raise
        except TapeMiss as miss:  # the student kit: shrinking stops at the last recorded input
            if run.shrink_last is not None:
                raise Abort(run.shrink_last) from None
            run.shrink_last = Failed(kit_miss(miss))
            raise run.shrink_last from None

    return bounded


def kit_miss(miss):
    return (f"the self-check kit has no recorded expectation for {miss.call}: an earlier result of yours led "
            "this check to an input a correct solution never reaches. Compare your function with the "
            "contract; the grader checks this fully at grading time.")


def _no_local_constants():
    """Draws must depend on the check alone, not on every module that happens to be loaded.

    Hypothesis mixes constants harvested from the source of all loaded local
    modules into its draws: editing the reference (or grading from the
    student kit, which has no reference code) would change which inputs a
    check draws. The pinned Hypothesis keeps them behind a private function;
    it is replaced by one that finds none.
    """
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - another Hypothesis layout: nothing to turn off
        return
    if hasattr(providers, "_get_local_constants") and hasattr(providers, "Constants"):
        empty = providers.Constants()
        providers._get_local_constants = lambda: empty


_no_local_constants()

CHECK_BUDGET_S = 60.0  # a backstop; the per-call timeouts and the shrink cap come first


@dataclass(frozen=True)
class CheckSpec:
    id: str
    question: str
    function: object
    uses: tuple = ()
    answers: tuple = ()
    timeout: float | None = None
    doc: str = ""


def check(check_id: str, *, uses=(), answers=(), timeout: float | None = None):
    """Mark a function as a check. ``uses``: names it calls; ``answers``: ANSWERS keys it reads."""
    if check_id.count(".") < 1 or not check_id.startswith("q"):
        raise ValueError(f"check ids look like 'q1.name.property', not {check_id!r}")

    def mark(fn):
        fn.__hw11_check__ = CheckSpec(
            id=check_id, question=check_id.split(".", 1)[0], function=fn,
            uses=tuple([uses] if isinstance(uses, str) else uses),
            answers=tuple([answers] if isinstance(answers, str) else answers),
            timeout=timeout, doc=inspect.getdoc(fn) or "")
        return fn

    return mark


def seed_for(check_id: str) -> int:
    return int.from_bytes(hashlib.sha256(check_id.encode()).digest()[:4], "big")


PLACEHOLDERS = (None, "", "TODO", ...)


@dataclass
class Session:
    """What the checks of one grading share: experiment results and feedback files."""

    feedback_dir: object = None  # a pathlib.Path, or None when no files are wanted
    memo: dict = field(default_factory=dict)
    plots: list = field(default_factory=list)
    finishers: list = field(default_factory=list)

    def on_finish(self, fn):
        """Call ``fn()`` when the grading's checks are done (e.g. wait for the plots' painter)."""
        self.finishers.append(fn)

    def start_helper(self, argv, **popen):
        """Start a trusted helper process of the grader's own (the plots' painter): ``Popen``.

        The boundary kills every process re-parented to the grader when it
        tears a submission's child down (what the submission left behind);
        a helper started here is spared until the grading has finished.
        """
        import subprocess

        from hw11grader.boundary import sandbox
        proc = subprocess.Popen(argv, **popen)
        sandbox.SPARED.add(proc.pid)
        self.on_finish(lambda: sandbox.SPARED.discard(proc.pid))
        return proc

    def finish(self):
        """Run the finishers once, in order; they are feedback work and never fail a grading."""
        finishers, self.finishers = self.finishers, []
        for fn in finishers:
            try:
                fn()
            except Exception:  # noqa: BLE001
                pass


@dataclass
class Sub:
    """The submission, as a check sees it: calls by name, answers by key."""

    boundary: object
    manifest: object
    check_id: str
    timeout: float | None = None
    session: Session = field(default_factory=Session)
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self):
        self.seed = seed_for(self.check_id)

    def _budget(self):
        if time.monotonic() - self.started > CHECK_BUDGET_S:
            raise Abort(StudentTimeout(f"this check ran out of time ({CHECK_BUDGET_S:g} s in all)"))

    def has(self, name: str) -> bool:
        return name in self.manifest.names

    def _through(self, fn, *args, **kwargs):
        self._budget()
        try:
            return fn(*args, **kwargs)
        except Outcome as e:
            if e.fatal:
                raise Abort(e) from None
            raise

    def call(self, name: str, *args, keep=None, timeout=None, **kwargs):
        """Call ``name(*args, **kwargs)`` in the submission; returns plain data."""
        return self._through(self.boundary.call, name, args, kwargs, seed=self.seed,
                             timeout=timeout or self.timeout, keep=keep)

    def method(self, handle: Handle, name: str, *args, timeout=None, **kwargs):
        """Call a method of an object kept in the submission's process."""
        return self._through(self.boundary.call, name, args, kwargs, seed=self.seed,
                             timeout=timeout or self.timeout, target=handle)

    def experiment(self, qualified: str, *args, timeout=None, shared=False, **kwargs):
        """Run the grader's experiment ``module.function`` with the submission plugged in.

        The experiment runs HERE, in the grader's process (``hw11grader.boundary.lab``),
        and calls the submission's functions through the boundary.
        ``shared=True``: run it once per grading (same seed for every check that
        asks), so several checks can judge one expensive sweep.
        """
        from hw11grader.boundary.lab import run_experiment

        seed = seed_for(qualified) if shared else self.seed
        limit = timeout or self.timeout or getattr(getattr(self.boundary, "limits", None), "call_timeout", None)
        if not shared:
            return self._through(run_experiment, self.boundary, qualified, args, kwargs, seed=seed,
                                 timeout=limit)
        key = (qualified, repr(args), repr(sorted(kwargs.items())))
        memo = self.session.memo
        if key not in memo:
            try:
                memo[key] = ("ok", run_experiment(self.boundary, qualified, args, kwargs, seed=seed,
                                                  timeout=limit))
            except Outcome as e:
                memo[key] = ("outcome", e)
        kind, value = memo[key]
        if kind == "outcome":
            raise Abort(value)
        return value

    def feedback(self, fn, *args, **kwargs):
        """Run feedback-only code (a plot, a notes file, an extra experiment for them): never a verdict.

        Whatever ``fn`` raises (the engine's ``Abort`` included) is swallowed
        and ``None`` returned; its time does not count against the check's
        budget; a function it made time out or crash is not disabled for the
        rest of the grading. So a feedback run cannot change any verdict.
        """
        run = CURRENT_RUN.get()
        disabled = getattr(self.boundary, "disabled", None)
        before = dict(disabled) if disabled is not None else None
        began = time.monotonic()
        if run is not None:
            run.feedback_depth += 1
        try:
            return fn(*args, **kwargs)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # noqa: BLE001 - feedback only, by design
            return None
        finally:
            if run is not None:
                run.feedback_depth -= 1
            self.started += time.monotonic() - began
            if before is not None:
                disabled.clear()
                disabled.update(before)

    def feedback_file(self, name: str):
        """A path in the feedback folder for a plot (None when no folder is wanted)."""
        folder = self.session.feedback_dir
        if folder is None:
            return None
        import pathlib
        folder = pathlib.Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        if str(path) not in self.session.plots:
            self.session.plots.append(str(path))
        return path

    def answer(self, key: str):
        """``ANSWERS[key]``, or Missing if absent or still the placeholder."""
        a = self.manifest.answers
        if not a.get("present"):
            raise Missing("ANSWERS is not defined (did the cell that defines it run without errors?)")
        if "error" in a:
            raise Missing(a["error"])
        value = a["value"].get(key)
        if any(value is p for p in (None, ...)) or (isinstance(value, str) and value.strip() in ("", "TODO")):
            raise Missing(f"ANSWERS[{key!r}] is not answered")
        return value

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args, **kwargs):
            return self.call(name, *args, **kwargs)

        return call
