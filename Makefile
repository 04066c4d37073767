# Segell: `make up` runs it, `make test` tests it. Both set up what they need first.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_WORKERS ?= 2

.PHONY: help setup setup-dev chromium poppler up test test-fast lint compile vendor migration forge slither bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

# uv (a PyPI package, installed into .venv by pip) installs the dependencies: it fetches the index pages and wheels
# in parallel, where pip fetches one after the other (bench/first_make_up.sh, docs/benchmarks.md).
UV_INSTALL := $(BIN)/uv pip install --quiet --python $(BIN)/python

# Two distributions in one command: the SDK (sdk/, segell-sdk) and the server (segell), which depends on it.
# Python compiles the bytecode of what `segell up` imports when it first imports it, not every file installed.
$(VENV)/.runtime: pyproject.toml sdk/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet 'uv>=0.9,<1'
	$(UV_INSTALL) -e ./sdk -e .
	touch $@

# The suite starts hundreds of Python processes: all the bytecode is compiled once, here, so that none compiles it
# again, also where PYTHONDONTWRITEBYTECODE is set (Python then never writes what it compiles). uv compiles only
# what this step installs, so compileall does the packages the runtime step installed.
$(VENV)/.dev: $(VENV)/.runtime
	$(UV_INSTALL) --compile-bytecode -e ./sdk -e '.[dev]'
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib
	touch $@

# The checkout's own modules (editable, so no install compiles them) and pytest's rewritten test modules are written
# as bytecode at their first import and read by every later process: both workers, each `segell` the suite starts.
# Under PYTHONDONTWRITEBYTECODE each of those processes compiled some 2,000 modules again (5 s of CPU for the app).
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/pytest

# anvil, forge and the Solidity compiler come from npm; without npm Segell still runs on the embedded chain.
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else \
		echo "npm not found: skipping anvil and the Solidity compiler (Segell will use the embedded chain)"; \
	fi

# The two installs wait on the network, not on each other: run them side by side.
setup: ## Create .venv and install Segell (and anvil, cast and solc from npm when npm exists)
	@$(MAKE) --no-print-directory -j2 $(VENV)/.runtime node_modules/.installed

# The page tests drive Debian's chromium through Playwright; no browser is ever downloaded by Playwright itself.
chromium: ## Install Debian's chromium (for the page tests) when /usr/bin/chromium is missing
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi; \
		$$sudo apt-get update && $$sudo apt-get install -y --no-install-recommends chromium; \
	fi

# The stamp tests read signed PDFs as readers do: pdftoppm renders them, pdfsig and pdftotext check them.
poppler: ## Install Debian's poppler-utils (for the signature stamp tests) when pdftoppm is missing
	@if ! command -v pdftoppm >/dev/null || ! command -v pdfsig >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi; \
		$$sudo apt-get update && $$sudo apt-get install -y --no-install-recommends poppler-utils; \
	fi

setup-dev: setup $(VENV)/.dev chromium poppler ## setup + test and lint tools (chromium, poppler-utils for the tests)

up: setup ## Start Segell (anvil when installed, else the embedded chain) on http://127.0.0.1:8000 (port: SEGELL_PORT)
	$(BIN)/segell up

# Whole modules go to one worker each (--dist loadfile): a module's server starts once, not once per worker.
test: setup-dev ## Run the whole suite (contracts, chain, services, SDK, PostgreSQL when configured); CI runs this
	$(PYTEST) -n $(PYTEST_WORKERS) --dist loadfile

test-fast: setup-dev ## The suite without the tests marked slow (restarts, kills, validation over time), for a quick loop
	$(PYTEST) -n $(PYTEST_WORKERS) --dist loadfile -m "not slow"

lint: setup-dev ## ruff, mypy (strict on chain/, services/ and sdk/), forge fmt --check, slither
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	node_modules/@foundry-rs/forge-linux-amd64/bin/forge fmt --check contracts
	$(MAKE) slither

compile: setup-dev ## Recompile the contracts and rewrite contracts/artifacts
	$(BIN)/python -m segell.chain.compile

# The explorer and the transparency portal serve Chart.js themselves (no CDN): the pinned build from npm is committed
# in their static files, with its licence, so that a wheel or a checkout without npm has it. Run this after changing
# chart.js's version in package.json.
CHART_STATIC := services/sandboxes/explorer_static services/web/static
vendor: node_modules/.installed ## Copy Chart.js (pinned in package.json) from node_modules into the explorer and the portal
	@test -f node_modules/chart.js/dist/chart.umd.min.js || { echo "node_modules/chart.js missing: run npm ci"; exit 1; }
	for static in $(CHART_STATIC); do \
		cp node_modules/chart.js/dist/chart.umd.min.js $$static/chart.umd.min.js && \
		cp node_modules/chart.js/LICENSE.md $$static/chart.js-LICENSE.md || exit 1; \
	done

migration: setup-dev ## New migration autogenerated from every domain's models: make migration m="what it adds"
	@test -n "$(m)" || { echo 'say what it does: make migration m="participation ideas and votes"'; exit 2; }
	@revision=$$($(BIN)/python -c 'import sys; from segell.services.db import new_migration; print(new_migration(sys.argv[1]))' "$(m)") \
		&& $(BIN)/ruff format --quiet "$$revision" && echo "$$revision: check it, then add it with its test"

forge: setup ## Foundry unit, fuzz and invariant tests of the contracts
	node_modules/@foundry-rs/forge-linux-amd64/bin/forge test

slither: setup-dev ## Static analysis of the contracts (fails on medium or higher)
	PATH=$(CURDIR)/node_modules/.bin:$$PATH $(BIN)/slither . --filter-paths "node_modules|contracts/test" --fail-medium

bench: setup-dev ## Benchmarks (figures go to docs/benchmarks.md)
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/verify_page.py

clean: ## Remove build output (keeps .venv, node_modules and .segell)
	rm -rf out cache crytic-export .pytest_cache .ruff_cache .mypy_cache .hypothesis test-artifacts
