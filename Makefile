# Segell: `make up` runs it, `make test` tests it. Both set up what they need first.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_WORKERS ?= 2

.PHONY: help setup setup-dev chromium up test test-fast lint compile forge slither bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# anvil, forge and the Solidity compiler come from npm; without npm Segell still runs on the embedded chain.
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null; then \
		npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else \
		echo "npm not found: skipping anvil and the Solidity compiler (Segell will use the embedded chain)"; \
	fi

setup: $(VENV)/.runtime node_modules/.installed ## Create .venv and install Segell (and anvil/solc from npm when npm exists)

# The page tests drive Debian's chromium through Playwright; no browser is ever downloaded by Playwright itself.
chromium: ## Install Debian's chromium (for the page tests) when /usr/bin/chromium is missing
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi; \
		$$sudo apt-get update && $$sudo apt-get install -y --no-install-recommends chromium; \
	fi

setup-dev: setup $(VENV)/.dev chromium ## setup + test and lint tools (and chromium for the page tests)

up: setup ## Start Segell (anvil when installed, else the embedded chain) on http://127.0.0.1:8000
	$(BIN)/segell up

# Whole modules go to one worker each (--dist loadfile): a module's server starts once, not once per worker.
test: setup-dev ## Run the whole suite (contracts, chain, services, SDK, PostgreSQL when configured); CI runs this
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile

test-fast: setup-dev ## The suite without the tests marked slow (restarts, kills, validation over time), for a quick loop
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile -m "not slow"

lint: setup-dev ## ruff, mypy (strict on chain/ and sdk/), forge fmt --check, slither
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	node_modules/@foundry-rs/forge-linux-amd64/bin/forge fmt --check contracts
	$(MAKE) slither

compile: setup-dev ## Recompile the contracts and rewrite contracts/artifacts
	$(BIN)/python -m segell.chain.compile

forge: setup ## Foundry unit, fuzz and invariant tests of the contracts
	node_modules/@foundry-rs/forge-linux-amd64/bin/forge test

slither: setup-dev ## Static analysis of the contracts (fails on medium or higher)
	PATH=$(CURDIR)/node_modules/.bin:$$PATH $(BIN)/slither . --filter-paths "node_modules|contracts/test" --fail-medium

bench: setup-dev ## Benchmarks (figures go to docs/benchmarks.md)
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/verify_page.py

clean: ## Remove build output (keeps .venv, node_modules and .segell)
	rm -rf out cache crytic-export .pytest_cache .ruff_cache .mypy_cache .hypothesis test-artifacts
