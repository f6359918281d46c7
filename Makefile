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

# Debian packages, only the missing ones, in one apt-get update + install: the browser under
# study (Chromium), nginx (fronts) and redis-server (message queue). nginx lives in /usr/sbin.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing="$$missing chromium"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(BIN)/siolab: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e ".[dev]"
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
