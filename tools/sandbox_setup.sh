#!/usr/bin/env bash
# As root (CI, Gradescope's setup.sh): prepare the unprivileged user the
# submission's child runs as, and let it reach the Python interpreter.
# Usage: tools/sandbox_setup.sh [PYTHON]   (default: .venv/bin/python)
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  echo "sandbox set-up needs root; skipped (the grader will say which protections are unavailable)"
  exit 0
fi
id hw11-sandbox >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin hw11-sandbox
py=$(readlink -f "${1:-.venv/bin/python}")
# Every folder above the interpreter must be traversable (o+x only: not listable).
d=$(dirname "$py")
while [ "$d" != "/" ]; do
  [ -x "$d" ] && perm=$(stat -c %A "$d") && case "$perm" in *x) ;; *) chmod o+x "$d" ;; esac
  d=$(dirname "$d")
done
echo "sandbox user hw11-sandbox ready; interpreter $py reachable"
