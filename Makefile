# The two commands: `make run` (local stack + sample journeys) and `make test` (the whole suite).
PYTHON ?= python3
# Some shells set PYTHONDONTWRITEBYTECODE: every process would compile every module afresh (pytest's rewritten
# test modules too). The clone's __pycache__/ folders are git-ignored.
unexport PYTHONDONTWRITEBYTECODE
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
ARGS   ?=

.PHONY: run test lint typecheck bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed (set PYTHON=...)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

run: $(STAMP)  ## the local stack with the sample journeys; ARGS=--once exits when they end
	$(BIN)/journeys up --demo $(ARGS)

# Three workers (one emulator each), a test file per worker at a time; branch coverage of the core, failing under 90%.
# Three on two cores: the tests wait (for queues to go quiet, for a browser) about a quarter of the time.
# The schemathesis run goes on its own (its generated tests share one node id, which pytest-xdist cannot tell apart),
# beside the others: its output is printed when it ends, and either run failing fails `make test`.
# Bytecode is written (unexport below), and a test collection runs beside mypy, on the core mypy leaves idle: the
# four pytest processes then start from compiled, assertion-rewritten modules (5 s each) rather than each compiling
# and rewriting about 440 of them itself (8.5 s each).
SCHEMA_LOG := test-output/api-schema.log
XDIST_WORKERS ?= 3
test: $(STAMP) lint  ## every test: unit, emulator integration, template checks, browser, coverage; mypy first
	@$(BIN)/python -m pytest -p no:cacheprovider --collect-only -q > /dev/null 2>&1 & \
	warm=$$!; $(MAKE) --no-print-directory typecheck; typed=$$?; wait $$warm; test $$typed -eq 0
	@mkdir -p $(dir $(SCHEMA_LOG))
	@$(BIN)/python -m pytest -p no:cacheprovider tests/test_api_schema.py $(PYTEST_ARGS) > $(SCHEMA_LOG) 2>&1 & \
	schema=$$!; trap 'kill $$schema 2>/dev/null' INT TERM HUP; \
	$(BIN)/python -m pytest -n $(XDIST_WORKERS) --dist loadfile --ignore=tests/test_api_schema.py \
		--cov=router --cov=consumers --cov-branch --cov-report=term:skip-covered --cov-fail-under=90 $(PYTEST_ARGS); \
	main=$$?; wait $$schema; schema_rc=$$?; \
	echo "--- tests/test_api_schema.py (ran beside the others) ---"; cat $(SCHEMA_LOG); \
	test $$main -eq 0 && test $$schema_rc -eq 0

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)  ## mypy --strict over the shipped packages ([tool.mypy] in pyproject.toml)
	$(BIN)/mypy

bench: $(STAMP)  ## AWS calls and latency per transition, fan-out reads; prints figures
	$(BIN)/python -m bench.critical_path
	$(BIN)/python -m bench.cpu
	$(BIN)/python -m bench.approvals
	$(BIN)/python -m bench.compare
	$(BIN)/python -m bench.capacity  # reads compare.json: after bench.compare
	$(BIN)/python -m bench.throughput
	$(BIN)/python -m bench.fanout

# Do the tests fail when the code is wrong? mutmut ([tool.mutmut] in pyproject.toml) mutates the decision core and the
# approval rules and runs the pure, in-memory tests against each mutant, one at a time (the machine is shared): about
# half an hour. Starts afresh each time (a stale mutants/ can keep verdicts the tests no longer earn). Not in `make test`.
.PHONY: mutation
mutation: $(STAMP)  ## mutation score of router/core's decision and approval modules, per module; see bench/results/mutation-*.md
	rm -rf mutants
	$(BIN)/mutmut run --max-children 1
	$(BIN)/python -m bench.mutation

.PHONY: reliability
N ?= 200
reliability: $(STAMP)  ## faults, crashes, load and bad input; writes bench/results/reliability-<date>.md (N=2000: full run)
	$(BIN)/python -m reliability.run --journeys $(N)

clean:
	rm -rf $(VENV) .journeys .pytest_cache test-output mutants

# `sam build` offline: PyPI only (aws-sam-cli, and the arm64 wheels of the dependencies); no Docker, no AWS
# account. Everything it writes lives under .aws-sam/, which git ignores and `sam build` leaves out of CodeUri.
SAM_DIR      := .aws-sam
SAM_VENV     := $(SAM_DIR)/cli-venv
SAM_MANIFEST ?= $(SAM_DIR)/requirements.txt
PYTHON312    ?= $(shell PYENV_VERSION=3.12.1 pyenv which python3.12 2>/dev/null || command -v python3.12)
SAM_ENV      := PATH="$(dir $(PYTHON312)):$$PATH" AWS_REGION=$${AWS_REGION:-eu-west-1} SAM_CLI_TELEMETRY=0

.PHONY: sam-manifest sam-build definitions-check

# FR-293: the build refuses a definition with a missing SLA, an undefined `next`, or any other problem;
# `journeys validate` names every problem (file:line) and exits non-zero, which stops sam-build first.
DEFINITIONS ?= definitions
definitions-check: $(STAMP)  ## validate every definition under DEFINITIONS (default definitions/)
	$(BIN)/journeys validate $(DEFINITIONS)

sam-manifest:  ## the runtime requirements (pyproject's `dependencies`, nothing else) for sam's pip builder
	@mkdir -p $(dir $(SAM_MANIFEST))
	@test -n "$(PYTHON312)" || { echo "sam build needs a python3.12 (pyenv install 3.12.1, or set PYTHON312=...)"; exit 1; }
	$(PYTHON312) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"], sep="\n")' > $(SAM_MANIFEST)

$(SAM_VENV)/bin/sam:  # its own venv: aws-sam-cli pins its own versions of boto3, cfn-lint and the translator
	$(PYTHON312) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli

sam-build: definitions-check sam-manifest $(SAM_VENV)/bin/sam  ## check the definitions, validate the template, then build into .aws-sam/build
	$(SAM_ENV) $(SAM_VENV)/bin/sam validate --lint --template-file infra/template.yaml
	$(SAM_ENV) $(SAM_VENV)/bin/sam build --template-file infra/template.yaml --manifest $(SAM_MANIFEST)

# The browser tests (tests/browser/) drive Debian's chromium through Playwright's Python API (the `dev` extra);
# Playwright never downloads a browser of its own. Installed once, when missing (CI runs as root).
CHROMIUM := /usr/bin/chromium
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

test: $(CHROMIUM)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
