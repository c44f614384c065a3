# drawkit front door. Every target sets up what it needs (virtualenv, install, kernel).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup demo test bench reliability lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m ipykernel install --sys-prefix --name drawkit --display-name drawkit > /dev/null
	touch $(STAMP)

demo: setup
	$(PY) -m drawkit demo

test: setup
	$(PY) -m ruff check drawkit tests benchmarks
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/run.py

reliability: setup
	$(PY) -m pytest -q -m reliability tests/reliability

lint: setup
	$(PY) -m ruff check drawkit tests benchmarks

clean:
	rm -rf $(VENV) reports/bench .pytest_cache .ruff_cache .hypothesis
