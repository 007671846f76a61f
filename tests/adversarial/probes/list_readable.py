"""Run by the secrets tests with the grader's own interpreter and engine (as root):
grades the probe through the real boundary and prints, as JSON, what the child
could read under the installation folder given on the command line."""
import json
import sys
from pathlib import Path

install = Path(sys.argv[1]).resolve()
probe = Path(sys.argv[2])
planted = sys.argv[3:]
sys.path.insert(0, str(install))
from hw11grader.boundary import sandbox  # noqa: E402
from hw11grader.boundary import ChildBoundary, Limits  # noqa: E402
from hw11grader.loading import load  # noqa: E402

plan = sandbox.plan(sandbox.SandboxConfig(), sys.executable)
roots = [str(install)] + [str(p) for p in install.parents if str(p) != "/"] + list(plan.environment)
with ChildBoundary(load(probe), Limits(call_timeout=120)) as b:
    manifest = b.start()
    assert manifest.status == "ok", manifest.message
    outside, inside = b.call("readable_files", (roots, plan.environment), seed=0, timeout=120)
    planted_readable = b.call("can_read", (planted,), seed=0)
print(json.dumps({"mode": plan.mode, "environment": plan.environment, "install": str(install),
                  "outside": outside, "inside": inside, "planted": planted_readable}))
