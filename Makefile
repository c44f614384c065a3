# drawkit front door. Every target sets up what it needs (virtualenv, install, kernel).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup browser lab demo test bench reliability lint clean

# Debian's chromium, for the browser checks of the HTML reports (make test installs it).
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
# LAB_PORT=8899 make lab picks another port; a busy port fails instead of silently moving.
# From another machine: ssh -L 8888:127.0.0.1:8888 <this host>, then open the printed URL.
LAB_PORT  ?= 8888
LAB_STAMP := $(VENV)/.lab-installed
LAB_ROOT  := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

$(LAB_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,lab]'
	touch $(LAB_STAMP)

lab: $(LAB_STAMP)
	@token=$$($(PY) -c 'import secrets; print(secrets.token_hex(24))') && \
	echo "JupyterLab with the drawkit kernel: http://127.0.0.1:$(LAB_PORT)/lab?token=$$token" && \
	echo "(Ctrl-C stops it; the token is shown only here)" && \
	JUPYTER_TOKEN=$$token exec $(VENV)/bin/jupyter lab --no-browser --ip=127.0.0.1 \
	  --port=$(LAB_PORT) --ServerApp.port_retries=0 --ServerApp.root_dir=notebooks $(LAB_ROOT)

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
