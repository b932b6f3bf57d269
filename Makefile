# 心档 xindang — the two commands a new user needs: `make run` and `make test`.
# Works on a fresh Debian 12 machine (as root, or with sudo). Every step is
# skipped when already done, so re-running is fast.

SHELL := /bin/bash
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=
TEST_POSTGRES_URL := postgres://root@127.0.0.1:5432/test

# Debian packages: WeasyPrint (Pango, HarfBuzz subsetting), CJK fonts (+ DejaVu for ☑, Noto Color Emoji for
# emoji with joiners such as 👨‍👩‍👧‍👦), PDF tools.
OS_PACKAGES      := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk fonts-dejavu-core fonts-noto-color-emoji poppler-utils
# Browser tests drive Debian's Chromium (never a downloaded browser).
TEST_OS_PACKAGES := chromium
# When the goal is `test`, fetch both lists with a single apt-get update.
ifneq ($(filter test,$(MAKECMDGOALS)),)
OS_PACKAGES += $(TEST_OS_PACKAGES)
endif

# root runs apt-get directly; anyone else goes through sudo when it exists.
SUDO := $(shell [ "$$(id -u)" = 0 ] || { command -v sudo >/dev/null 2>&1 && echo sudo; })

# $(call apt_ensure,PACKAGES): install whatever of PACKAGES is not installed yet.
# python3, python3-venv and npm are added only when missing (a fresh Debian 12
# may have none of them; a machine with another Node.js keeps its own npm).
define apt_ensure
@missing=""; \
for p in $(1); do \
  dpkg -s "$$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing="$$missing $$p"; \
done; \
if [ -n "$(2)" ]; then \
  command -v $(PYTHON) >/dev/null 2>&1 || missing="$$missing python3"; \
  $(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
  command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
fi; \
if [ -n "$$missing" ]; then \
  echo "Installing OS packages:$$missing"; \
  $(SUDO) apt-get update && \
  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
fi
endef

PO_FILES := $(wildcard i18n/*/LC_MESSAGES/*.po)
MO_FILES := $(PO_FILES:.po=.mo)

.PHONY: help setup os-packages test-os-packages venv semgrep node_modules i18n run test bench clean

help:
	@echo "make run    set up (first time only), create the demo school, serve on http://$(HOST):$(PORT)"
	@echo "make test   set up, check the form definitions, bandit + semgrep, run the test suite (PYTEST_ARGS=...)"
	@echo "make bench  run the benchmarks"
	@echo "make clean  remove the virtualenv, node_modules and build output (keeps data/)"

os-packages:
	$(call apt_ensure,$(OS_PACKAGES),extras)

test-os-packages: | os-packages
	$(call apt_ensure,$(TEST_OS_PACKAGES),)

# Python virtualenv, reinstalled only when pyproject.toml changes.
venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml | os-packages
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -e '.[test]'
	@touch $@

# semgrep in a virtualenv of its own: its releases pin their dependencies too tightly to share the app's
# (see .semgrep/requirements.txt). Inside .venv, so `make clean` removes it too.
SEMGREP_VENV := $(VENV)/semgrep
semgrep: $(SEMGREP_VENV)/.installed
$(SEMGREP_VENV)/.installed: .semgrep/requirements.txt | $(VENV)/.installed
	@test -x $(SEMGREP_VENV)/bin/python || $(PYTHON) -m venv $(SEMGREP_VENV)
	$(SEMGREP_VENV)/bin/pip install --disable-pip-version-check -q -r .semgrep/requirements.txt
	@touch $@

# htmx from the npm registry, pinned by package-lock.json, copied to static/vendor/; axe-core (a dev dependency,
# same lock) stays in node_modules/ for the browser tests' accessibility check (tests/test_accessibility.py).
node_modules: static/vendor/htmx.min.js
node_modules/.installed: package.json package-lock.json | os-packages
	npm ci --no-audit --no-fund
	@touch $@
static/vendor/htmx.min.js: node_modules/.installed
	@mkdir -p $(@D)
	cp node_modules/htmx.org/dist/htmx.min.js $@

# Compile gettext catalogs (both domains, messages and forms); nothing to do
# while no .po exists.
i18n: $(MO_FILES)
i18n/%.mo: i18n/%.po | $(VENV)/.installed
	$(BIN)/pybabel compile -i $< -o $@

setup: os-packages venv node_modules i18n

run: setup
	$(BIN)/xindang init --demo
	$(BIN)/xindang serve --host $(HOST) --port $(PORT)

# PostgreSQL tests run too when a server answers on 127.0.0.1:5432
# (pg_isready, or a plain socket connect when pg_isready is not installed).
# semgrep reads only the local rules and sends nothing (no metrics, no version check): it works offline.
test: setup test-os-packages semgrep
	@if [ -z "$${XINDANG_TEST_POSTGRES_URL:-}" ]; then \
	  if pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1 || \
	     $(BIN)/python -c 'import socket; socket.create_connection(("127.0.0.1", 5432), 2).close()' >/dev/null 2>&1; then \
	    export XINDANG_TEST_POSTGRES_URL='$(TEST_POSTGRES_URL)'; \
	    echo "PostgreSQL answers: XINDANG_TEST_POSTGRES_URL=$$XINDANG_TEST_POSTGRES_URL"; \
	  fi; \
	fi; \
	set -e; \
	$(BIN)/xindang check-forms; \
	$(BIN)/bandit -q -c pyproject.toml -r server renderers; \
	$(SEMGREP_VENV)/bin/semgrep scan --quiet --config .semgrep/rules.yml --metrics=off --disable-version-check --error --strict server renderers; \
	$(BIN)/pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python bench/run_all.py

# Never touches data/ (the school's records).
clean:
	rm -rf $(VENV) node_modules static/vendor .pytest_cache .hypothesis bench/out *.egg-info
	find . -name __pycache__ -type d -not -path './.git/*' -prune -exec rm -rf {} +
	find i18n -name '*.mo' -delete
