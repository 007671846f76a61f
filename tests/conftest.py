import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "tests" / "submissions"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import golden  # noqa: E402


@pytest.fixture(scope="session")
def content():
    from hw11grader import load_content
    return load_content()


def run_grader(*args, cwd=None, timeout=300):
    """Run the CLI in a subprocess, as users do; returns (exit code, stdout, stderr).

    It runs in ``cwd``, by default a new empty temporary folder: never in the
    checkout, so nothing a user leaves there (a ``hw11.ipynb``, a
    ``hw11_feedback/``) is found or written. ``timeout`` only guards against
    a hang; no test asserts how long a run takes.
    """
    with tempfile.TemporaryDirectory(prefix="hw11-test-cwd-") as fresh:
        proc = subprocess.run([sys.executable, str(ROOT / "grader.py"), *map(str, args)],
                              cwd=fresh if cwd is None else cwd, capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, "NO_COLOR": "1"})
    golden.compare_or_record(args, proc.returncode)
    return proc.returncode, proc.stdout, proc.stderr


def grade_json(tmp_path, submission, *args, name="report.json"):
    out = tmp_path / name
    if "--feedback" not in args:
        args = (*args, "--feedback", tmp_path / "feedback")
    code, stdout, stderr = run_grader(submission, *args, "--json", out)
    assert code == 0, f"exit {code}\n{stdout}\n{stderr}"
    return json.loads(out.read_text()), stdout


def with_override(tmp_path, override_file, base=SUBMISSIONS / "correct.py"):
    """The correct submission with a mutant's definitions appended (they win)."""
    target = tmp_path / "hw11.py"
    target.write_text(base.read_text() + "\n\n# ---- mutant ----\n" + Path(override_file).read_text())
    return target
