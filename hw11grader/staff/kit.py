"""``grader.py build student --out DIR``: the self-check kit, with no solution in it.

Building the kit is copying, recording and verifying; nothing is cut out of
source files.

* Copied: the template (``hw11.py``, ``hw11.ipynb``), ``grader.py``, the
  engine (``hw11grader/``), ``experiments/`` (the grader-owned experiment
  code the child runs: it holds no answer), ``requirements.lock``, and
  ``checks/`` without ``checks/hidden/`` (hidden checks live there and only
  there: the registry refuses a hidden check anywhere else). ``points.toml``
  keeps the public rows; question totals are the public points.
* Recorded, instead of ``reference/``: the kit's ``reference`` package is a
  loader and ``tape.json``, the expectations the public checks asked the
  reference for while they graded, when the kit was built, a correct
  submission and each known mistake (``hw11grader/judge/tape.py``): the same
  call with the same arguments (Hypothesis is derandomized) gets the same
  value back. Symbolic answers are only their values at the comparison
  points; choices in the answer key are salted hashes.
* Verified before anything is written: no file holds a hidden check id, a
  student-API function or class with a working body (the template's stubs
  raise ``NotImplementedError``), a hidden ANSWERS value or a symbolic answer
  expression; the tape's answer key holds only keys public checks read; the
  kit loads in a fresh ``python -I`` with exactly the public checks; and the
  kit, run from its own folder, gives the correct submission every public point.
"""
from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent.parent
KIT_MARKER = ".hw11-kit"
TEMPLATE_FILES = ("student_template/hw11.py", "student_template/hw11.ipynb")
COPY_WHOLE = ("hw11grader", "experiments")
CORRECT = Path("tests/submissions/correct.py")
MUTANTS = Path("tests/submissions/mutants")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")

REFERENCE_LOADER = '''"""The student kit's ``reference``: recorded expectations, no reference code.

Each public check asks for the values it compares with; they were recorded
when the kit was built (see hw11grader/judge/tape.py) and are in tape.json:
numbers and arrays for the inputs the public checks draw, symbolic answers
only as values at the comparison points, choices as salted hashes.
"""
import json as _json
import pathlib as _pathlib
import sys as _sys

from hw11grader.judge import tape as _tape

_TAPE = _tape.Tape(_json.loads((_pathlib.Path(__file__).parent / "tape.json").read_text(encoding="utf-8")))


def __getattr__(name):
    if name in _TAPE.kinds:
        module = _tape.TapeModule(name, _TAPE, _TAPE.kinds[name])
        _sys.modules[f"{__name__}.{name}"] = module
        globals()[name] = module
        return module
    raise AttributeError(f"the student kit records nothing for reference.{name}")
'''


class KitError(Exception):
    """The kit cannot be built without risking a leak (the message says which rule)."""


@dataclass
class Plan:
    public_ids: list = field(default_factory=list)
    hidden_ids: list = field(default_factory=list)
    public_keys: list = field(default_factory=list)  # ANSWERS keys some public check reads
    hidden_keys: list = field(default_factory=list)  # ANSWERS keys only hidden checks read
    hidden_points: float = 0.0


def plan_kit(repo: Path = REPO_DIR) -> Plan:
    from hw11grader.judge.registry import load_content

    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    content = load_content()
    plan = Plan()
    public = [e for e in content.entries if e.visibility == "public"]
    hidden = [e for e in content.entries if e.visibility == "hidden"]
    plan.public_ids = [e.id for e in public]
    plan.hidden_ids = sorted(e.id for e in hidden)
    keys = {k for e in public for k in e.spec.answers}
    plan.public_keys = sorted(keys)
    plan.hidden_keys = sorted({k for e in hidden for k in e.spec.answers} - keys)
    plan.hidden_points = sum(e.points for e in hidden)
    return plan


# ---------------------------------------------------------------- recording

RECORD = r"""
import json, sys
from pathlib import Path
repo, out, jobs = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
sys.path.insert(0, str(repo))
from hw11grader.judge import tape
recorder = tape.Recorder()
names = sorted(p.stem for p in (repo / "reference").glob("*.py") if p.stem not in ("__init__", "empirical"))
tape.install_recorder(recorder, names)
import dataclasses
from hw11grader.judge.registry import load_content
from hw11grader.judge.runner import grade
content = load_content()
failures = {}
for job in jobs:
    selected = content
    if job["checks"]:  # a known mistake: only the checks it fails (the others take the correct one's path)
        selected = dataclasses.replace(content, entries=tuple(e for e in content.entries if e.id in job["checks"]))
    graded = grade(Path(job["path"]), selected, mode="student")
    if job["must_pass"]:
        failures[job["path"]] = [f"{r.id}: {r.status}: {r.message[:300]}" for r in graded.results
                                 if r.status not in ("passed", "skipped")]
data = recorder.tape()
out.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
secrets = [str(e) for e in recorder.expressions.values()]
print(json.dumps({"failures": failures, "problems": recorder.problems, "expressions": secrets}))
"""


def recording_jobs(repo: Path, work: Path) -> list:
    """The submissions the tape is recorded from: the correct one, then each known mistake on its questions."""
    correct = repo / CORRECT
    jobs = [{"path": str(correct), "checks": [], "must_pass": True}]
    base = correct.read_text(encoding="utf-8")
    for i, mutant in enumerate(sorted((repo / MUTANTS).glob("*.py"))):
        text = mutant.read_text(encoding="utf-8")
        fails = re.search(r"^# expect-fail: (.+)$", text, re.M)
        if not fails:
            continue
        target = work / f"mistake_{i:03d}" / "hw11.py"
        target.parent.mkdir(parents=True)
        target.write_text(base + "\n\n# ---- a known mistake ----\n" + text, encoding="utf-8")
        jobs.append({"path": str(target), "checks": fails.group(1).split(), "must_pass": False})
    return jobs


def record_tape(repo: Path, out: Path, python=sys.executable) -> dict:
    with tempfile.TemporaryDirectory(prefix="hw11-kit-record-") as work:
        jobs = recording_jobs(repo, Path(work))
        proc = subprocess.run([python, "-I", "-B", "-c", RECORD, str(repo), str(out), json.dumps(jobs)],
                              cwd=work, capture_output=True, text=True, timeout=3600, env=_clean_env())
    if proc.returncode != 0:
        raise KitError(f"recording the expectations failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    bad = {k: v for k, v in result["failures"].items() if v}
    if bad:
        raise KitError("the correct submission does not pass every public check, so nothing can be recorded: "
                       + "; ".join(x for v in bad.values() for x in v[:5]))
    if result["problems"]:
        raise KitError("a public check asked the reference for something that is not plain data: "
                       + "; ".join(result["problems"][:5]))
    return result


# ---------------------------------------------------------------- writing

def write_kit(repo: Path, plan: Plan, out: Path, tape_file: Path):
    out.mkdir(parents=True)
    for folder in COPY_WHOLE:
        shutil.copytree(repo / folder, out / folder, ignore=IGNORE)
    shutil.copytree(repo / "checks", out / "checks", ignore=shutil.ignore_patterns(
        "__pycache__", "*.pyc", ".*", "hidden", "points*.toml"))
    (out / "checks" / "points.toml").write_text(points_toml(plan, repo), encoding="utf-8")
    (out / "reference").mkdir()
    (out / "reference" / "__init__.py").write_text(REFERENCE_LOADER, encoding="utf-8")
    shutil.copy2(tape_file, out / "reference" / "tape.json")
    for name in ("grader.py", "requirements.lock"):
        shutil.copy2(repo / name, out / name)
    for rel in TEMPLATE_FILES:
        shutil.copy2(repo / rel, out / Path(rel).name)
    (out / "README.md").write_text(KIT_README.format(hidden_points=f"{plan.hidden_points:g}",
                                                     checks=len(plan.public_ids)), encoding="utf-8")
    (out / KIT_MARKER).write_text("HW11 student kit (built by grader.py build student)\n")
    for root, dirs, files in os.walk(out):  # readable by the student, whatever the repository's modes
        os.chmod(root, 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o755 if f == "grader.py" else 0o644)


def points_toml(plan: Plan, repo: Path) -> str:
    from hw11grader.judge.registry import load_content

    content = load_content()
    lines = ["# Points of the PUBLIC checks of HW11 (the student kit). Hidden checks run only",
             "# at grading time; their points are not listed here.", ""]
    public = [e for e in content.entries if e.visibility == "public"]
    for q in content.questions:
        points = sum(e.points for e in public if e.question == q.id)
        if points > 0:
            lines += [f"[questions.{q.id}]", f"title = {json.dumps(q.title)}", f"points = {points:g}", ""]
    lines.append("[checks]")
    for e in public:
        lines.append(f'{json.dumps(e.id)} = {{ points = {e.points:g}, visibility = "public" }}')
    return "\n".join(lines) + "\n"


KIT_README = """# HW11 self-check kit

Check your homework before you submit it. This kit runs the {checks} public
checks of the autograder; the hidden checks ({hidden_points} points) run only
at grading time.

Set-up (Python 3.11), once:

```
python3.11 -m venv .venv
.venv/bin/python -m pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.lock
```

Then, in this folder (with your hw11.ipynb or hw11.py here):

```
.venv/bin/python grader.py              # grades ./hw11.ipynb (else ./hw11.py)
.venv/bin/python grader.py hw11.py -q q1 q5
```

Each failing check shows the input that failed, what came back, what was
expected and a hint. Your code runs in a separate process.

The kit holds no solution and no reference code: `reference/tape.json` holds
what the public checks compare with, recorded for the inputs they draw
(numbers and arrays; symbolic answers only as values at the points where
they are compared; choices as salted hashes), and `checks/_judging.py` the
grader's measurements of your own experiments.
"""


# ---------------------------------------------------------------- verifying

def student_api_names(repo: Path) -> set:
    """The names the template defines (functions and classes): the contract's student API."""
    tree = ast.parse((repo / TEMPLATE_FILES[0]).read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def _is_stub(body) -> bool:
    """A docstring, then only ``raise NotImplementedError``, ``pass`` or ``...``."""
    statements = list(body)
    if statements and isinstance(statements[0], ast.Expr) and isinstance(getattr(statements[0], "value", None),
                                                                         ast.Constant):
        statements = statements[1:]
    for s in statements:
        if isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)):
            continue
        if isinstance(s, ast.Expr) and _is_super_init(s.value):  # nn.Module's stub: super().__init__()
            continue
        if isinstance(s, ast.Raise):
            exc = s.exc.func if isinstance(s.exc, ast.Call) else s.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                continue
        return False
    return True


def _is_super_init(node) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "__init__"
            and isinstance(node.func.value, ast.Call) and getattr(node.func.value.func, "id", None) == "super")


def working_definitions(source: str, names: set, where: str) -> list:
    """Definitions of a student-API name (at any depth) that do more than raise NotImplementedError."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return [f"{where}: not Python (cannot be checked)"]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
            if not _is_stub(node.body):
                found.append(f"{where}, line {node.lineno}: a working {node.name}()")
        elif isinstance(node, ast.ClassDef) and node.name in names:
            methods = [m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
            others = [m for m in node.body if not isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Pass))
                      and not (isinstance(m, ast.Expr) and isinstance(m.value, ast.Constant))]
            if others or not all(_is_stub(m.body) for m in methods):
                found.append(f"{where}, line {node.lineno}: a working class {node.name}")
    return found


def _sources(kit: Path):
    for path in sorted(kit.rglob("*")):
        if path.suffix == ".py":
            yield path, path.read_text(encoding="utf-8")
        elif path.suffix == ".ipynb":
            try:
                cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
            except ValueError:
                yield path, "not a notebook ("
                continue
            for i, cell in enumerate(cells):
                if cell.get("cell_type") == "code":
                    src = cell.get("source", "")
                    yield Path(f"{path}#cell{i + 1}"), "".join(src) if isinstance(src, list) else src


def hidden_value_forms(repo: Path, keys) -> dict:
    """key -> the texts a hidden ANSWERS value would show as (only distinctive forms)."""
    import importlib

    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    values = {}
    for path in sorted((repo / "reference").glob("q*.py")):
        module = importlib.import_module(f"reference.{path.stem}")
        answers = getattr(module, "answers", None)
        if callable(answers):
            for k, v in answers().items():
                if k in keys:
                    values[k] = v
    forms = {}
    for k, v in values.items():
        texts = set()
        if isinstance(v, float) and not float(v).is_integer():
            texts |= {repr(v), json.dumps(v)}
        elif isinstance(v, str) and len(v) >= 3:
            texts |= {json.dumps(v)}
        forms[k] = sorted(texts)
    return forms


def verify(kit: Path, plan: Plan, recorded: dict, repo: Path = REPO_DIR, python=sys.executable) -> list:
    """Problems with a written kit (empty when it is sound)."""
    problems = []
    api = student_api_names(repo)
    tape_data = json.loads((kit / "reference" / "tape.json").read_text(encoding="utf-8"))
    texts = {}
    for path in kit.rglob("*"):
        if path.is_file():
            texts[path] = path.read_text(encoding="utf-8", errors="replace")
    for path, text in texts.items():
        rel = path.relative_to(kit)
        for cid in plan.hidden_ids:
            if cid in text:
                problems.append(f"{rel} contains the hidden check id {cid}")
        for expression in recorded.get("expressions", []):
            if len(expression) > 4 and expression in text:
                problems.append(f"{rel} contains the symbolic answer {expression}")
    tape_text = texts[kit / "reference" / "tape.json"]
    for key, forms in hidden_value_forms(repo, plan.hidden_keys).items():
        for form in forms:  # numbers anywhere; a string (a choice: the options are public) only where an
            # answer would sit on the tape, as the value of a dict entry
            if form.startswith('"'):  # a string: as the value of a dict entry on the tape (["key","value"])
                if re.search(r'\[\s*"(?:[^"\\]|\\.)*"\s*,\s*' + re.escape(form) + r"\s*\]", tape_text):
                    problems.append(f"reference/tape.json holds the value of the hidden answer {key}")
                continue
            for path, text in texts.items():
                if form in text:
                    problems.append(f"{path.relative_to(kit)} contains the value of the hidden answer {key}")
    for path, source in _sources(kit):
        problems += working_definitions(source, api, str(path.relative_to(kit)) if path.exists() else str(path))
    public_keys = set(plan.public_keys)
    for key, value in tape_data["calls"].items():
        if key.split(":", 1)[0].endswith(".answers") and isinstance(value, dict):
            read = {k for k, _ in value.get("$d", [])}
            if read - public_keys:
                problems.append(f"the tape holds answers only hidden checks read: {sorted(read - public_keys)}")
    if re.search(r'"\$expr"\s*:', json.dumps(tape_data["calls"])) and not tape_data["points"]:
        problems.append("the tape names symbolic answers but holds no values for them")
    proc = subprocess.run([python, "-I", "-B", "-c", LOAD_CHECK, str(kit)], cwd=kit, capture_output=True,
                          text=True, timeout=300, env=_clean_env())
    if proc.returncode != 0:
        return problems + [f"the kit does not load in a fresh interpreter:\n{proc.stderr[-3000:]}"]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    if sorted(got["ids"]) != sorted(plan.public_ids):
        problems.append(f"the kit's checks differ from the public checks (extra: "
                        f"{sorted(set(got['ids']) - set(plan.public_ids))}; "
                        f"lost: {sorted(set(plan.public_ids) - set(got['ids']))})")
    problems += [f"kit configuration: {p}" for p in got["problems"]]
    if not all(str(f).startswith(str(kit)) for f in got["files"]):
        problems.append(f"the kit imported content from outside itself: {got['files']}")
    if problems:
        return problems
    return grade_correct_in_kit(kit, repo, python)


LOAD_CHECK = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from hw11grader.judge.registry import load_content
import checks, reference
c = load_content()
print(json.dumps({"ids": [e.id for e in c.entries], "problems": list(c.problems),
                  "files": [checks.__file__, reference.__file__]}))
"""


def grade_correct_in_kit(kit: Path, repo: Path, python=sys.executable) -> list:
    with tempfile.TemporaryDirectory(prefix="hw11-kit-verify-") as work:
        report = Path(work) / "report.json"
        proc = subprocess.run([python, "-I", "-B", str(kit / "grader.py"), str(repo / CORRECT), "--json", str(report),
                               "--feedback", str(Path(work) / "feedback")], cwd=kit, capture_output=True, text=True,
                              timeout=1200, env=_clean_env())
        if proc.returncode != 0 or not report.exists():
            return [f"the kit could not grade the correct submission (exit {proc.returncode}):\n{proc.stderr[-2000:]}"]
        data = json.loads(report.read_text())
    lost = [f"{c['id']}: {c['status']}: {c['message'][:200]}" for c in data["checks"]
            if c["visibility"] == "public" and c["status"] != "passed"]
    return [f"with the kit the correct submission loses {x}" for x in lost]


def _clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["NO_COLOR"] = "1"
    return env


def main(out) -> int:
    out = Path(out).resolve()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / KIT_MARKER).exists())):
        print(f"grader.py build student: {out} exists and is not an earlier kit; choose a new folder",
              file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    staging_root = Path(tempfile.mkdtemp(prefix=".hw11-kit-", dir=out.parent))
    staging = staging_root / "kit"
    try:
        plan = plan_kit()
        print(f"build student: recording the public checks' expectations (a correct submission and "
              f"{len(list((REPO_DIR / MUTANTS).glob('*.py')))} known mistakes) ...", file=sys.stderr)
        tape_file = staging_root / "tape.json"
        recorded = record_tape(REPO_DIR, tape_file)
        write_kit(REPO_DIR, plan, staging, tape_file)
        problems = verify(staging, plan, recorded)
        if problems:
            print("grader.py build student: the kit failed its verification; nothing written:\n  "
                  + "\n  ".join(problems[:40]), file=sys.stderr)
            return 1
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    except KitError as e:
        print(f"grader.py build student: refusing to build the kit: {e}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
    print(f"wrote the student kit to {out}: {len(plan.public_ids)} public checks, no reference code "
          f"({len(plan.hidden_ids)} hidden checks left out; ANSWERS keys only they read: "
          f"{', '.join(plan.hidden_keys) or 'none'})")
    return 0
