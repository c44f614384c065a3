# drawkit front door. Every target sets up what it needs (virtualenv, install, kernel).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup browser node demo test bench reliability lint clean

# Debian's chromium, for the browser checks of the HTML reports and the verifier page, and
# Debian's nodejs, whose test runner checks the verifier's JavaScript (make test installs both).
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

node:
	@command -v node > /dev/null || { $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q nodejs > /dev/null; }

demo: setup
	$(PY) -m drawkit demo

test: setup browser node
	$(PY) -m ruff check drawkit tests benchmarks
	$(PY) -m pytest -q

bench: setup browser
	$(PY) benchmarks/run.py

reliability: setup
	DRAWKIT_RELIABILITY_REPORT=docs/reliability.md $(PY) -m pytest -q -m reliability tests/reliability

lint: setup
	$(PY) -m ruff check drawkit tests benchmarks

clean:
	rm -rf $(VENV) reports/bench .pytest_cache .ruff_cache .hypothesis
