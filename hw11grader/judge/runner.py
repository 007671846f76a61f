"""Running checks: the one place where any outcome becomes a ``CheckResult``."""
from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field

from hw11grader.boundary import ChildBoundary, Limits, Manifest
from hw11grader.loading import LoadError, Submission, load
from hw11grader.outcomes import CURRENT_RUN, Abort, CheckResult, CheckRun, GraderError, Outcome
from hw11grader.score import written_answers, written_status

GRADER_FAULT = ("The grader itself failed on this check ({detail}). This is not your fault "
                "and costs you nothing once fixed: please tell the course staff.")


def _find_outcome(exc):
    """The student's outcome inside an exception (hypothesis may wrap it)."""
    seen = 0
    stack = [exc]
    while stack and seen < 50:
        e = stack.pop()
        seen += 1
        if isinstance(e, Outcome):
            return e
        stack.extend(getattr(e, "exceptions", ()) or ())
        for linked in (e.__cause__, e.__context__):
            if linked is not None:
                stack.append(linked)
    return None


def run_check(entry, boundary, manifest: Manifest, session: Session | None = None) -> CheckResult:
    spec = entry.spec

    def result(status, message=""):
        score = entry.points if status == "passed" else 0.0
        return CheckResult(spec.id, spec.question, status, score, entry.points, entry.visibility, message)

    if manifest.status == "timeout":
        return result("timeout", manifest.message)
    if manifest.status != "ok":
        return result("error", f"the submission could not be loaded: {manifest.message}")
    absent = [n for n in spec.uses if n not in manifest.names]
    if absent:
        return result("missing", f"{', '.join(absent)} {'is' if len(absent) == 1 else 'are'} not defined")
    for name in spec.uses:  # a function that timed out or crashed is not called again
        earlier = getattr(boundary, "disabled", {}).get(name)
        if earlier is not None:
            return result(earlier.status, f"not run: {name} is not called again in this grading "
                                          f"({earlier.message.splitlines()[0]})")
    from hw11grader.judge.checking import Session, Sub

    sub = Sub(boundary, manifest, spec.id, timeout=spec.timeout, session=session or Session())
    run = CheckRun()
    token = CURRENT_RUN.set(run)
    try:
        status, message = _outcome_of(spec.function, sub)
    finally:
        CURRENT_RUN.reset(token)
    if run.aborted is not None and status != run.aborted.status:
        # the engine's signal was caught by check code: it still decides the verdict
        status, message = run.aborted.status, run.aborted.message
    return result(status, message)


def _outcome_of(function, sub):
    """``(status, message)`` of running one check: every cause of ``outcomes.CAUSES`` and anything else."""
    from hw11grader.judge.checking import kit_miss
    from hw11grader.judge.tape import TapeMiss

    try:
        function(sub)
    except Abort as a:
        return a.outcome.status, a.outcome.message
    except Outcome as e:
        return e.status, e.message
    except TapeMiss as miss:
        return "failed", kit_miss(miss)
    except GraderError as e:
        return "grader_error", GRADER_FAULT.format(detail=str(e)[:300])
    except BaseException as e:  # noqa: BLE001 - the single catch-all, by design
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        outcome = _find_outcome(e)
        if outcome is not None:
            return outcome.status, outcome.message
        return "grader_error", GRADER_FAULT.format(detail=f"{type(e).__name__}: {str(e)[:300]}")
    return "passed", ""


@dataclass
class Graded:
    """Everything a report needs, as plain data."""

    submission: str
    mode: str
    results: list
    content: object
    written: dict
    warnings: list = field(default_factory=list)
    load_message: str = ""
    duration_s: float = 0.0
    output: str = ""
    protections: dict = field(default_factory=dict)
    plots: list = field(default_factory=list)
    written_text: dict = field(default_factory=dict)  # the text of each answered WRITTEN key
    nothing_loaded: bool = False  # every cell raised and the submission defined nothing


def grade(path, content, *, mode="student", questions=None, limits=Limits(),
          boundary_factory=ChildBoundary, progress=None, feedback_dir=None) -> Graded:
    """Grade the submission at ``path`` in a child process.

    ``content``: the checks, or a function that loads them: it is then called
    once the child has been started, so that the grader's imports of checks
    and reference overlap the submission's own (torch).
    """
    started = time.monotonic()
    try:
        submission = load(path)
    except LoadError as e:
        content = content() if callable(content) else content
        warnings = [f"grader configuration: {p}" for p in content.problems]
        manifest = Manifest("died", str(e))
        selected = content.select(questions)
        results = [run_check(entry, None, manifest) if not _skip(entry, mode) else _skipped(entry)
                   for entry in selected]
        return Graded(str(path), mode, results, content, written_status(content, {}),
                      warnings + [str(e)], str(e), time.monotonic() - started)
    boundary = boundary_factory(submission, limits)
    if callable(content):
        begin = getattr(boundary, "begin", None)
        try:
            if begin is not None:
                begin()
            content = content()
        except BaseException:
            boundary.close()
            raise
    warnings = [f"grader configuration: {p}" for p in content.problems] + list(submission.warnings)
    return run_all(boundary, str(path), content, submission=submission, mode=mode, questions=questions,
                   limits=limits, progress=progress, feedback_dir=feedback_dir, warnings=warnings,
                   started=started)


def run_all(boundary, label, content, *, submission=None, mode="student", questions=None,
            limits=Limits(), progress=None, feedback_dir=None, warnings=None, started=None) -> Graded:
    """Start the boundary, run the selected checks in order, close it, and collect a Graded."""
    from hw11grader.judge.checking import Session

    started = started or time.monotonic()
    warnings = list(warnings or [])
    frozen = False
    session = Session(feedback_dir=feedback_dir)
    selected = content.select(questions)
    try:
        begin = getattr(boundary, "begin", None)
        if begin is not None:  # (grade() began it before importing the checks; begin() is idempotent)
            begin()
        frozen = _while_loading(content, session, getattr(boundary, "loaded", None))
        manifest = boundary.start()
        for cell in manifest.cells:
            if cell.get("status") == "error":
                warnings.append(f"{cell['name']} raised while loading; names it defined before the error are kept:\n"
                                f"{cell.get('message', '')}")
        if manifest.status != "ok":
            warnings.append(f"the submission could not be loaded: {manifest.message}")
        results = []
        deadline = started + limits.submission_timeout
        for i, entry in enumerate(selected):
            if progress:
                progress(i, len(selected), entry)
            if _skip(entry, mode):
                results.append(_skipped(entry))
            elif time.monotonic() >= deadline:
                results.append(CheckResult(entry.id, entry.question, "timeout", 0.0, entry.points,
                                           entry.visibility, "not run: the time limit for grading one "
                                           f"submission ({limits.submission_timeout:g} s) was reached"))
            else:
                results.append(run_check(entry, boundary, manifest, session))
        if progress:
            progress(len(selected), len(selected), None)
        output = boundary.output()
    finally:
        boundary.close()
        session.finish()
        if frozen:  # (by _while_loading: collectable again, e.g. in a batch worker's next grading)
            gc.unfreeze()
    texts = written_answers(content, submission, manifest)
    graded = Graded(label, mode, results, content, written_status(content, texts),
                    warnings, manifest.message, time.monotonic() - started, output, written_text=texts,
                    nothing_loaded=_nothing_loaded(manifest))
    plan = getattr(boundary, "plan", None)
    graded.protections = ({"in_force": list(plan.in_force), "unavailable": list(plan.unavailable)}
                          if plan is not None else {})
    graded.plots = sorted(session.plots)
    return graded


def _while_loading(content, session, loaded=None):
    """What the grader can do while the submission's process starts (imports torch, runs its cells;
    ``boundary.begin``), which takes a core for a second or more: start the plots' painter and do
    the reference work the selected checks will need (``warm_up``: a sympy derivation). Neither is
    ever a verdict: a warm-up that fails fails again, and is reported, in the check that needs it.

    ``loaded()``: whether the submission has loaded. The warm-ups only fill that wait: once it is
    over (or with no child to wait for: ``loaded`` None) what is left is done by the checks that
    need it, if any run. None runs while the student kit's tape is recorded: only the checks' own
    calls go on the tape. Whether it froze the heap (``_freeze_heap``: not in the notebook's own
    kernel, with no child to wait for)."""
    from hw11grader.judge import tape

    for starter in getattr(content, "starters", ()):
        try:
            starter(session)
        except Exception:  # noqa: BLE001 - feedback work (the plots' painter): never a verdict
            pass
    if tape.RECORDER is not None or loaded is None:
        return False
    for warm_up in getattr(content, "warm_ups", ()):
        if loaded():
            break
        try:
            warm_up()
        except Exception:  # noqa: BLE001 - done again, and reported, by the check that needs it
            pass
    return _freeze_heap(collect=not loaded())


def _freeze_heap(collect) -> bool:
    """Leave the objects the grader has made so far (its modules, sympy's, the warm-ups' results)
    out of the garbage collector's passes while the checks run: every full pass over them took
    30-40 ms, one of them Hypothesis's at its first test (``register_random``), on the grading's
    critical path. Collected first while the submission is still loading (``collect``), when it
    costs nothing; ``gc.unfreeze`` at the end of the grading gives them back (``run_all``)."""
    if collect:
        gc.collect()
    gc.freeze()
    return True


def _nothing_loaded(manifest) -> bool:
    """Every cell of the submission raised and it defined nothing (e.g. a syntax error)."""
    if manifest is None or manifest.status != "ok" or manifest.names:
        return False
    return bool(manifest.cells) and all(c.get("status") == "error" for c in manifest.cells)


def _skip(entry, mode):
    return mode == "student" and entry.visibility == "hidden"


def _skipped(entry):
    return CheckResult(entry.id, entry.question, "skipped", 0.0, entry.points, entry.visibility,
                       "hidden check: not run locally (it runs at grading time)")
