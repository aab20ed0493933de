# wirelake: `make run` sets everything up and runs the sample; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
UV_VERSION := 0.9.30

# Prefect: no telemetry, a project-local home, and room for the temporary server's first start.
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120

.PHONY: install run test test-fast eval bench lock clean-warehouse

install: $(VENV)/.installed

# --compile-bytecode: uv writes no .pyc files by default, and where PYTHONDONTWRITEBYTECODE is set
# (it is on these machines) Python would then compile Prefect, GX, spaCy, ... from source in every
# process: 2-3 s of every `wirelake run` (measured: an unchanged re-run 5.1-6.4 s -> 3.5 s).
$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q flows warehouse bench
	touch $@

run: install
	$(BIN)/wirelake run --sources examples/sources.toml
	@echo "warehouse: $(CURDIR)/warehouse · next: $(BIN)/wirelake runs · $(BIN)/wirelake sql \"SELECT title FROM articles LIMIT 5\" · $(BIN)/wirelake report · $(BIN)/wirelake doctor"

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow and not integration"

eval: install
	$(BIN)/python -m flows.evaluate

bench: install
	$(BIN)/python -m bench

# Re-resolve requirements.lock from pyproject.toml (needs PyPI).
lock:
	$(BIN)/uv pip compile --python-version 3.11 --extra test pyproject.toml -o requirements.lock

clean-warehouse:
	rm -rf warehouse/catalog.sqlite* warehouse/data warehouse/raw warehouse/reports warehouse/.ext
