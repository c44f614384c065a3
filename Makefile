# drawkit front door. Every target sets up what it needs (virtualenv, install, kernel).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup browser node lab demo test bench reliability lint clean

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

# poppler-utils gives pdftotext, to read back the landing page printed to PDF.
browser:
	@{ command -v chromium && command -v pdftotext; } > /dev/null || { $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium poppler-utils > /dev/null; }

# JupyterLab for analysts: the `lab` extra in the venv, the `drawkit` kernel (setup registers
# it), a server on loopback only with a fresh token printed once (JupyterLab shows it as ...).
# It opens copies of the report notebooks in workspace/lab/ (the shipped ones stay clean);
# opened there with an empty `job`, they explore on the scratch workspace/scratch/.
# LAB_PORT=8899 make lab picks another port; a busy port fails instead of silently moving.
# From another machine: ssh -L 8888:127.0.0.1:8888 <this host>, then open the printed URL.
LAB_PORT  ?= 8888
LAB_STAMP := $(VENV)/.lab-installed
LAB_ROOT  := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

$(LAB_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,lab]'
	touch $(LAB_STAMP)

lab: $(LAB_STAMP)
	@mkdir -p workspace/lab && for nb in drawkit/notebooks/*.ipynb; do \
	  [ -e "workspace/lab/$$(basename $$nb)" ] || cp "$$nb" workspace/lab/; done
	@token=$$($(PY) -c 'import secrets; print(secrets.token_hex(24))') && \
	echo "JupyterLab with the drawkit kernel: http://127.0.0.1:$(LAB_PORT)/lab?token=$$token" && \
	echo "(Ctrl-C stops it; the token is shown only here)" && \
	JUPYTER_TOKEN=$$token DRAWKIT_WORKSPACE=$(CURDIR)/workspace exec $(VENV)/bin/jupyter lab \
	  --no-browser --ip=127.0.0.1 --port=$(LAB_PORT) --ServerApp.port_retries=0 \
	  --ServerApp.root_dir=workspace/lab $(LAB_ROOT)

node:
	@command -v node > /dev/null || { $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q nodejs > /dev/null; }

demo: setup
	$(PY) -m drawkit demo

test: setup browser node
	$(PY) -m ruff check drawkit tests benchmarks
	$(PY) -m pytest -q

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) browser
	$(PY) benchmarks/run.py

reliability: setup
	DRAWKIT_RELIABILITY_REPORT=docs/reliability.md $(PY) -m pytest -q -m reliability tests/reliability

lint: setup
	$(PY) -m ruff check drawkit tests benchmarks

clean:
	rm -rf $(VENV) reports/bench .pytest_cache .ruff_cache .hypothesis
