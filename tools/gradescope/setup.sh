#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image
# (Ubuntu 22.04). It installs Python 3.11 (22.04's python3 is 3.10; the lock
# needs 3.11), the pinned requirements (torch from PyTorch's CPU wheel index:
# PyPI's torch is a multi-GB CUDA build), creates the unprivileged user the
# student's code runs as, and makes the grader's files root-only.
#
# Environment (for tests): HW11_ROOT (default /autograder),
# HW11_PYTHON (the interpreter the grader will use; default the venv's),
# HW11_SKIP_INSTALL=1 (skip apt and pip: the interpreter already exists).
set -euo pipefail
ROOT="${HW11_ROOT:-/autograder}"
SOURCE="$ROOT/source"
VENV="$SOURCE/.venv"
TORCH_INDEX="https://download.pytorch.org/whl/cpu"
cd "$SOURCE"

if [ "${HW11_SKIP_INSTALL:-0}" != 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  # util-linux gives setpriv and unshare (the sandbox); ca-certificates for pip.
  if ! apt-get install -y --no-install-recommends python3.11 python3.11-venv util-linux ca-certificates; then
    apt-get install -y --no-install-recommends software-properties-common
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update
    apt-get install -y --no-install-recommends python3.11 python3.11-venv util-linux ca-certificates
  fi
  python3.11 -m venv "$VENV"
  # 22.04's bundled pip is old; a current one knows every wheel tag of the lock's packages
  "$VENV/bin/python" -m pip install --no-cache-dir --disable-pip-version-check --upgrade pip
  # torch first, from the CPU index and without dependencies (they are pinned in the lock) ...
  torch_pin=$(grep -E '^torch==' requirements.lock)
  "$VENV/bin/python" -m pip install --no-cache-dir --disable-pip-version-check \
      --index-url "$TORCH_INDEX" --no-deps "$torch_pin"
  # ... then everything else from PyPI; the installed torch (2.13.0+cpu) satisfies torch==2.13.0.
  "$VENV/bin/python" -m pip install --no-cache-dir --disable-pip-version-check -r requirements.lock
  "$VENV/bin/python" -c "import torch, numpy, sympy, hypothesis, nbformat; assert not torch.cuda.is_available(); print('torch', torch.__version__)"
fi
PYTHON="${HW11_PYTHON:-$VENV/bin/python}"

# The unprivileged user (hw11-sandbox); it must be able to run the interpreter.
bash tools/sandbox_setup.sh "$PYTHON"

# Build the reference cache now (the reference's own experiment runs, ~10 s of
# CPU), once for the image, rather than on every submission's first use.
if [ -f reference/cache.py ]; then
  "$PYTHON" -c "import sys; sys.path.insert(0, '.'); from reference import cache; cache.ensure(); print('reference cache ready:', cache.folder())" \
    || echo "warning: the reference cache could not be built now; it will be built on first use" >&2
fi

# Permissions: the grader's files are root-only. The child (hw11-sandbox)
# needs only the Python environment: /autograder and source/ are traversable
# but not listable, .venv is readable. Its own program, the experiments and
# the submission are copied to a private scratch folder at grading time.
chmod 711 "$ROOT" "$SOURCE"
find "$SOURCE" -mindepth 1 -maxdepth 1 ! -name .venv -exec chmod -R go-rwx {} +
if [ -d "$VENV" ]; then chmod -R go+rX "$VENV"; fi
mkdir -p "$ROOT/results"
chmod 700 "$ROOT/results"
echo "HW11 autograder set up in $SOURCE (python: $PYTHON)"
