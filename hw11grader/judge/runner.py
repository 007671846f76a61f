"""Running checks: the one place where any outcome becomes a ``CheckResult``."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from hw11grader.boundary import ChildBoundary, Limits, Manifest
from hw11grader.judge.checking import Session, Sub
from hw11grader.loading import LoadError, Submission, load
from hw11grader.outcomes import Abort, CheckResult, Failed, GraderError, Outcome
from hw11grader.judge.tape import TapeMiss

# After a property first fails, Hypothesis shrinks the input; past this many
# further examples the last failure is reported as it is (a count, not a
# clock, so that the report stays identical on every regrade).
SHRINK_EXAMPLES = 80

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
    sub = Sub(boundary, manifest, spec.id, timeout=spec.timeout, session=session or Session())
    hyp = getattr(spec.function, "hypothesis", None)
    inner = getattr(hyp, "inner_test", None)
    if inner is not None:
        hyp.inner_test = _bounded_shrinking(inner)
    try:
        spec.function(sub)
    except Abort as a:
        return result(a.outcome.status, a.outcome.message)
    except Outcome as e:
        return result(e.status, e.message)
    except TapeMiss as miss:
        return result("failed", _kit_miss(miss))
    except GraderError as e:
        return result("grader_error", GRADER_FAULT.format(detail=str(e)[:300]))
    except BaseException as e:  # noqa: BLE001 - the single catch-all, by design
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        outcome = _find_outcome(e)
        if outcome is not None:
            return result(outcome.status, outcome.message)
        return result("grader_error", GRADER_FAULT.format(detail=f"{type(e).__name__}: {str(e)[:300]}"))
    finally:
        if inner is not None:
            hyp.inner_test = inner
    return result("passed", "")


def _bounded_shrinking(inner):
    """Wrap a Hypothesis test body (its documented ``inner_test`` hook) to cap shrinking."""
    state = {"last": None, "after": 0}

    def bounded(*args, **kwargs):
        if state["last"] is not None:
            state["after"] += 1
            if state["after"] > SHRINK_EXAMPLES:
                raise Abort(state["last"])
        try:
            return inner(*args, **kwargs)
        except Outcome as e:
            state["last"] = e
            raise
        except TapeMiss as miss:  # the student kit: shrinking stops at the last recorded input
            if state["last"] is not None:
                raise Abort(state["last"]) from None
            state["last"] = Failed(_kit_miss(miss))
            raise state["last"] from None

    return bounded


def _kit_miss(miss):
    return (f"the self-check kit has no recorded expectation for {miss.call}: an earlier result of yours led "
            "this check to an input a correct solution never reaches. Compare your function with the "
            "contract; the grader checks this fully at grading time.")


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


def written_status(content, submission: Submission | None, manifest: Manifest | None) -> dict:
    answered = {}
    if manifest is not None and manifest.written.get("present") and "value" in manifest.written:
        answered.update({k: v for k, v in manifest.written["value"].items()
                         if isinstance(v, str) and v.strip()})
    if submission is not None:
        for k, v in submission.written_cells.items():
            if v.strip():
                answered.setdefault(k, v)
    return {k: ("present" if k in answered else "missing") for k in content.written_keys}


def written_answers(content, submission, manifest) -> dict:
    """The text of each WRITTEN key (the dict wins over a markdown cell)."""
    out = {}
    if submission is not None:
        out.update({k: v for k, v in submission.written_cells.items() if v.strip()})
    if manifest is not None and manifest.written.get("present") and "value" in manifest.written:
        out.update({k: v for k, v in manifest.written["value"].items() if isinstance(v, str) and v.strip()})
    return out


def grade(path, content, *, mode="student", questions=None, limits=Limits(),
          boundary_factory=ChildBoundary, progress=None, feedback_dir=None) -> Graded:
    """Grade the submission at ``path`` in a child process."""
    started = time.monotonic()
    warnings = [f"grader configuration: {p}" for p in content.problems]
    try:
        submission = load(path)
    except LoadError as e:
        manifest = Manifest("died", str(e))
        selected = content.select(questions)
        results = [run_check(entry, None, manifest) if not _skip(entry, mode) else _skipped(entry)
                   for entry in selected]
        return Graded(str(path), mode, results, content, written_status(content, None, None),
                      warnings + [str(e)], str(e), time.monotonic() - started)
    warnings.extend(submission.warnings)
    boundary = boundary_factory(submission, limits)
    return run_all(boundary, str(path), content, submission=submission, mode=mode, questions=questions,
                   limits=limits, progress=progress, feedback_dir=feedback_dir, warnings=warnings,
                   started=started)


def run_all(boundary, label, content, *, submission=None, mode="student", questions=None,
            limits=Limits(), progress=None, feedback_dir=None, warnings=None, started=None) -> Graded:
    """Start the boundary, run the selected checks in order, close it, and collect a Graded."""
    started = started or time.monotonic()
    warnings = list(warnings or [])
    session = Session(feedback_dir=feedback_dir)
    selected = content.select(questions)
    try:
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
    graded = Graded(label, mode, results, content, written_status(content, submission, manifest),
                    warnings, manifest.message, time.monotonic() - started, output)
    plan = getattr(boundary, "plan", None)
    graded.protections = ({"in_force": list(plan.in_force), "unavailable": list(plan.unavailable)}
                          if plan is not None else {})
    graded.plots = sorted(session.plots)
    return graded


def _skip(entry, mode):
    return mode == "student" and entry.visibility == "hidden"


def _skipped(entry):
    return CheckResult(entry.id, entry.question, "skipped", 0.0, entry.points, entry.visibility,
                       "hidden check: not run locally (it runs at grading time)")
