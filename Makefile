# Every target creates .venv and installs into it when needed, so a fresh machine with only
# python3 (3.11+) and make can run them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# One stamp per extra set; re-installs when pyproject.toml changes.
BASE_STAMP  := $(VENV)/.stamp-base
TEST_STAMP  := $(VENV)/.stamp-test
BENCH_STAMP := $(VENV)/.stamp-bench

.PHONY: demo test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(BASE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

$(BENCH_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $@

demo: $(BASE_STAMP)
	$(BIN)/lnplan demo --out out/demo

# The notebooks run too (nbmake, kernel python3, a time limit per cell).
test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -n 2 tests --nbmake notebooks --nbmake-timeout=300

lint: $(TEST_STAMP)
	$(BIN)/ruff check lnplan tests benchmarks data
	$(BIN)/ruff format --check lnplan tests benchmarks data
	$(BIN)/mypy
	$(BIN)/nbstripout --verify notebooks/*.ipynb

format: $(TEST_STAMP)
	$(BIN)/ruff format lnplan tests benchmarks data
	$(BIN)/ruff check --fix lnplan tests benchmarks data

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
