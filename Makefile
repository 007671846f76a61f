# Two commands do all the set-up on a fresh machine:
#   make grade   - builds .venv from requirements.lock, grades the bundled template
#   make test    - builds .venv, runs the everyday test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: grade test test-all bench lock template sandbox clean

$(STAMP): requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $(STAMP)

grade: $(STAMP)
	$(PY) grader.py student_template/hw11.ipynb

# Two workers (pytest-xdist): the suite is mostly subprocess gradings.
test: $(STAMP)
	$(PY) -m pytest -q -m "not slow" -n 2

test-all: $(STAMP) sandbox
	$(PY) -m pytest -q -n 2

# As root: the unprivileged user the child runs as (no-op otherwise).
sandbox: $(STAMP)
	bash tools/sandbox_setup.sh $(PY)

bench: $(STAMP)
	$(PY) bench/bench_grading.py

template: $(STAMP)
	$(PY) tools/make_template.py

lock: $(STAMP)
	$(PY) -m pip freeze --exclude-editable | sed 's/+cpu//' > requirements.lock.new && mv requirements.lock.new requirements.lock

clean:
	rm -rf $(VENV)
