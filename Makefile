# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint typecheck unit bench bench-reading bench-ui clean bytecode

$(BIN)/dws: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,ui]'
	@touch $@

# Compiled bytecode for dws's own modules: an editable install leaves them as source, and
# where PYTHONDONTWRITEBYTECODE is set every `dws` process would compile them again
# (about 0.15 s of each command's start-up). Only changed modules are compiled.
bytecode: $(BIN)/dws
	$(BIN)/python -m compileall -q src

demo: $(BIN)/dws bytecode
	$(BIN)/python scripts/demo.py

test: $(BIN)/dws lint typecheck unit

lint: $(BIN)/dws
	$(BIN)/ruff check src tests scripts bench
	$(BIN)/ruff format --check src tests scripts bench
	$(BIN)/lint-imports

typecheck: $(BIN)/dws
	$(BIN)/mypy

unit: $(BIN)/dws bytecode
	$(BIN)/pytest -q -n 2

bench: $(BIN)/dws bytecode
	$(BIN)/python bench/run.py
	$(BIN)/python bench/storage.py

bench-reading: $(BIN)/dws bytecode
	$(BIN)/python bench/reading.py

bench-ui: $(BIN)/dws bytecode
	$(BIN)/python bench/ui.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info

# long fuzzing of every metadata decoder (CI runs the same tests with few examples)
.PHONY: fuzz
fuzz: $(BIN)/dws bytecode
	DWS_FUZZ_EXAMPLES=$${DWS_FUZZ_EXAMPLES:-20000} $(BIN)/pytest -q -n 2 tests/fuzz

# the long form of the failure tests: many random kills, then long fuzzing
.PHONY: torture
torture: $(BIN)/dws fuzz
	DWS_KILL_ROUNDS=$${DWS_KILL_ROUNDS:-40} $(BIN)/pytest -q -n 2 tests/failure tests/e2e/remotes -k "kill or crash or interrupted or concurrent or full or random"
