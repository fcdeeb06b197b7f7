# The two commands: `make run` (local stack + sample journeys) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
ARGS   ?=

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed (set PYTHON=...)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

run: $(STAMP)  ## the local stack with the sample journeys; ARGS=--once exits when they end
	$(BIN)/journeys up --demo $(ARGS)

test: $(STAMP) lint  ## every test: unit, emulator integration, template checks
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)  ## AWS calls and latency per transition; prints figures
	$(BIN)/python -m bench.critical_path

clean:
	rm -rf $(VENV) .journeys .pytest_cache test-output
