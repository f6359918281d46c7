# siolab set-up and entry points. `make run` and `make test` install whatever is missing first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SCENARIO ?= stale-sid-after-restart
PYTEST_ARGS ?=
# apt-get as root, through sudo otherwise
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup system-deps run test clean-runs

setup: system-deps $(BIN)/siolab node_modules/.package-lock.json

# Debian packages: the browser under study (Chromium) when no browser is found.
system-deps:
	@if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then \
	  echo "installing Debian's chromium"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; \
	fi

$(BIN)/siolab: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e .
	@touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

run: setup
	$(BIN)/siolab run $(SCENARIO)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean-runs:
	rm -rf reports/runs
