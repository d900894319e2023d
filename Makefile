# Two commands for a fresh machine:  `make run`  and  `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test venv bench clean

$(BIN)/liveclass: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $@

venv: $(BIN)/liveclass

## Run the main job end to end on the embedded sandbox (last 7 complete days).
run: venv
	$(BIN)/liveclass run

## Run the whole test suite (lint first).
test: venv
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=15

## Run the benchmarks of BENCHMARKS.md (long; not part of the tests).
bench: venv
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) data dagster_home .pytest_cache
