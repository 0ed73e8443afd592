# Yima — every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# The PostgreSQL the tests use (trust auth on this machine); `make test` runs every test on it too.
YIMA_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export YIMA_TEST_POSTGRES_URL
# test workers (pytest-xdist); 0 runs the suite in this one process (easier to debug)
PYTEST_WORKERS ?= 2

.PHONY: help install install-test serve test lint format bench bench-deps conformance clean browser-deps fuzz fuzz-ci

help:
	@echo "make serve        install, upgrade the database, load the demo data, serve on http://$(HOST):$(PORT)"
	@echo "make test         install the test dependencies, lint, run the whole suite on SQLite and PostgreSQL"
	@echo "make bench        run the benchmarks and print figures and ratios"
	@echo "make fuzz         schemathesis over the whole API of a real server, every role, SQLite and PostgreSQL (FUZZ_ARGS=...)"
	@echo "make fuzz-ci      the bounded pass .ci/run runs (a few minutes: a fixed seed and a random one)"
	@echo "make conformance  run ../shared/conformance/check.py against this install"
	@echo "make lint|format  ruff check, ruff format --check and the import layers (lint-imports) / ruff format"

$(BIN)/yima: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(BIN)/yima

$(VENV)/.test-installed: $(BIN)/yima
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/yima

install-test: $(VENV)/.test-installed browser-deps

# Browser tests drive Debian's chromium; install it when we can (root on Debian), else they skip.
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi

serve: install
	$(BIN)/yima db upgrade
	$(BIN)/yima demo
	$(BIN)/yima serve --host $(HOST) --port $(PORT)

# ruff reads what to check from pyproject.toml; lint-imports checks the layers and cycles declared there
lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.test-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# pytest's exit code 5 ("no tests ran") must fail, never pass silently.
test: install-test lint
	@if ! $(BIN)/python -c "import psycopg,sys; psycopg.connect(sys.argv[1].replace('+psycopg','')).close()" "$(YIMA_TEST_POSTGRES_URL)" 2>/dev/null; then \
	  echo "PostgreSQL is not reachable at $(YIMA_TEST_POSTGRES_URL): its tests will be skipped (start it, or set YIMA_TEST_POSTGRES_URL)"; \
	  unset YIMA_TEST_POSTGRES_URL; export YIMA_TEST_POSTGRES_URL=; fi; \
	$(BIN)/pytest $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS)) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

# The scale-out benchmark takes its load from wrk (a C client that leaves the two cores to the servers)
bench-deps:
	@if ! command -v wrk >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's wrk for the scale-out benchmark"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; fi

bench: install-test bench-deps
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# tests/fuzz/run.py --help lists the options (--db, --role, --seed, --max-time, --max-examples, --keep)
fuzz: install-test
	$(BIN)/python tests/fuzz/run.py $(FUZZ_ARGS)

fuzz-ci: install-test
	$(BIN)/python tests/fuzz/run.py --max-time 6 --seed 20261201 --seed random $(FUZZ_ARGS)

conformance: install
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python ../shared/conformance/check.py $(SECTIONS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .import_linter_cache bench-out
