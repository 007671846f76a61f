"""Discovering the checks and their points (questions are content, not code).

Every module ``checks/q*.py`` (public checks) and ``checks/hidden/q*.py``
(hidden checks: they run only at grading time and never ship in the student
kit) is scanned for functions marked with ``@check``; ``checks/points.toml`` gives each check its points and
visibility and each question its title and total. Adding a question means
adding a module and its table entries: the engine names no question.
"""
from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (Gradescope's default image)
    import tomli as tomllib

VISIBILITIES = ("public", "hidden")
HIDDEN_FOLDER = "hidden"  # checks/hidden/: the hidden checks (never in the student kit)


class ConfigError(Exception):
    """The checks or their configuration are inconsistent (a grader bug)."""


@dataclass(frozen=True)
class Entry:
    spec: object  # CheckSpec
    points: float
    visibility: str

    @property
    def id(self):
        return self.spec.id

    @property
    def question(self):
        return self.spec.question


@dataclass(frozen=True)
class Question:
    id: str
    title: str
    points: float


@dataclass(frozen=True)
class Content:
    questions: tuple  # of Question, in homework order
    entries: tuple  # of Entry, in report order
    written_keys: tuple
    problems: tuple = ()  # configuration problems (shown as warnings; a test keeps it empty)
    # ``on_session_start(session)`` of the imported check modules that define one (e.g. start the
    # plots' painter), called while the submission's process loads (runner._while_loading)
    starters: tuple = ()
    # ``warm_up()`` of the imported check modules that define one: reference work their checks will
    # need (a sympy derivation), done while the submission's process is still starting
    warm_ups: tuple = ()

    def question(self, qid):
        for q in self.questions:
            if q.id == qid:
                return q
        raise KeyError(qid)

    def select(self, questions=None):
        if not questions:
            return self.entries
        return tuple(e for e in self.entries if e.question in questions)


def question_of_module(name: str) -> str:
    """``qN_topic`` -> ``qN``: a check module is named after its question (the one convention)."""
    return name.split("_", 1)[0].lower()


def question_ids(package: str = "checks") -> list:
    """The questions of ``points.toml``, in homework order (reads the table only: imports no check)."""
    spec = importlib.util.find_spec(package)
    folder = Path(spec.origin).parent
    with open(folder / "points.toml", "rb") as f:
        return list(tomllib.load(f).get("questions", {}))


def load_content(package: str = "checks", questions=None) -> Content:
    """The checks and their points. ``questions``: import only the check modules of these
    questions (``-q q5`` loads Q5's checks and, through them, Q5's reference alone)."""
    wanted = {q.lower() for q in questions} if questions else None
    pkg = importlib.import_module(package)
    folder = Path(pkg.__file__).parent
    with open(folder / "points.toml", "rb") as f:
        config = tomllib.load(f)
    for part in sorted(folder.glob("points_*.part.toml")):  # rows being written: merged in
        with open(part, "rb") as f:
            extra = tomllib.load(f)
        config.setdefault("checks", {}).update(extra.get("checks", {}))
    questions = tuple(
        Question(qid, str(q.get("title", qid)), float(q["points"]))
        for qid, q in config.get("questions", {}).items()
    )
    specs, hidden_defined, starters, warm_ups = {}, set(), [], []
    for where, prefix in ((folder, package), (folder / HIDDEN_FOLDER, f"{package}.{HIDDEN_FOLDER}")):
        if not where.is_dir():
            continue
        for mod in sorted(pkgutil.iter_modules([str(where)]), key=lambda m: m.name):
            if not mod.name.startswith("q"):
                continue
            if wanted is not None and question_of_module(mod.name) not in wanted:
                continue
            module = importlib.import_module(f"{prefix}.{mod.name}")
            starter = getattr(module, "on_session_start", None)
            if callable(starter) and starter not in starters:
                starters.append(starter)
            warm_up = getattr(module, "warm_up", None)
            if callable(warm_up) and warm_up not in warm_ups:
                warm_ups.append(warm_up)
            for value in vars(module).values():
                spec = getattr(value, "__hw11_check__", None)
                if spec is None or getattr(value, "__module__", None) != module.__name__:
                    continue
                if spec.id in specs:
                    raise ConfigError(f"two checks have the id {spec.id}")
                specs[spec.id] = spec
                if where != folder:
                    hidden_defined.add(spec.id)
    table = config.get("checks", {})
    problems, fatal = [], []
    for cid in specs:
        if cid not in table:
            problems.append(f"{cid} has no entry in points.toml: not run")
    entries = []
    for cid, row in table.items():
        if wanted is not None and cid.split(".", 1)[0] not in wanted:
            continue  # a question not asked for: its modules were not imported
        if cid not in specs:
            problems.append(f"points.toml lists {cid}, which no check defines")
            continue
        vis = row.get("visibility", "public")
        if vis not in VISIBILITIES:
            fatal.append(f"{cid}: visibility must be public or hidden")
        elif (vis == "hidden") != (cid in hidden_defined):
            # where a check lives decides what ships in the student kit: the two must agree
            fatal.append(f"{cid} is {vis} in points.toml but defined in "
                         f"{'checks/hidden/' if cid in hidden_defined else 'checks/'}: a hidden check lives in "
                         "checks/hidden/, a public one in checks/ (move the function to change its visibility)")
        entries.append(Entry(specs[cid], float(row["points"]), vis))
    order = {q.id: i for i, q in enumerate(questions)}
    for e in entries:
        if e.question not in order:
            fatal.append(f"{e.id}: question {e.question} is not in [questions]")
    for q in questions:
        if wanted is not None and q.id not in wanted:
            continue
        total = sum(e.points for e in entries if e.question == q.id)
        if abs(total - q.points) > 1e-9:
            problems.append(f"{q.id}: the checks add up to {total:g} points, not {q.points:g}")
    if fatal:
        raise ConfigError("; ".join(fatal))
    entries.sort(key=lambda e: order.get(e.question, 99))  # stable: table order within a question
    written = tuple(getattr(pkg, "WRITTEN_KEYS", ()))
    return Content(questions, tuple(entries), written, tuple(problems), tuple(starters), tuple(warm_ups))
