# benchlib: `make reproduce` runs the main job, `make test` the test suite.
# Both create .venv/ and install the pinned requirements first when needed.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# Re-install only when the requirements or the package metadata change.
STAMP  := $(VENV)/.installed
QUICK  ?= 0
export PYTHONUNBUFFERED := 1

.PHONY: setup bytecode reproduce test lab lint clean help

help:
	@echo "make reproduce   set up .venv, then run the benchmark suite (QUICK=1 for a short run)"
	@echo "make test        set up .venv, then run the tests (TEST_WORKERS=0: no worker processes)"
	@echo "make lab         open JupyterLab on notebooks/"
	@echo "make lint        ruff"

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# Every case starts a fresh interpreter that imports benchlib; where the environment forbids writing
# bytecode (PYTHONDONTWRITEBYTECODE), each would compile benchlib's modules again (about 30 ms a process).
bytecode:
	@$(PY) -m compileall -q benchlib

reproduce: $(STAMP) bytecode
	$(PY) -m benchlib.notebook.suite --quick $(QUICK)

# Two pytest-xdist workers: most tests wait on child processes (imports, hangs, timeouts), so two share two
# cores well. --dist loadfile keeps each test module on one worker, so the tiny notebook suite that the
# tests in tests/test_notebooks.py read runs once (tests/conftest.py starts them first).
TEST_WORKERS ?= 2

test: $(STAMP) bytecode
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=30

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

lint: $(STAMP)
	$(VENV)/bin/ruff check benchlib tests benchmarks

clean:
	rm -rf outputs/results outputs/figures outputs/tables outputs/notebooks outputs/models outputs/report.html
