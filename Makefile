# drawkit front door. Every target sets up what it needs (virtualenv, install, kernel).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup browser demo test bench reliability lint clean

# Debian's chromium, for the browser checks of the HTML reports (make test installs it).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m ipykernel install --sys-prefix --name drawkit --display-name drawkit > /dev/null
	touch $(STAMP)

browser:
	@command -v chromium > /dev/null || { $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium > /dev/null; }

demo: setup
	$(PY) -m drawkit demo

test: setup browser
	$(PY) -m ruff check drawkit tests benchmarks
	$(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/run.py

reliability: setup
	DRAWKIT_RELIABILITY_REPORT=docs/reliability.md $(PY) -m pytest -q -m reliability tests/reliability

lint: setup
	$(PY) -m ruff check drawkit tests benchmarks

clean:
	rm -rf $(VENV) reports/bench .pytest_cache .ruff_cache .hypothesis
