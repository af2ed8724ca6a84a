# One way to run everything. Every target installs what it needs on a fresh Debian machine.
VENV ?= .venv
PY := $(VENV)/bin/python
SWITCHYARD := $(VENV)/bin/switchyard
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := postgresql redis-server nodejs npm chromium fonts-dejavu-core prometheus

.PHONY: help deps system-packages venv stack-up stack-down provision serve demo test lint bench mutation clean

help:
	@echo "make demo        the real stack and a rollout plan: advances on evidence, then a rollback (README)"
	@echo "make test        lint, type-check and the test suite against the real servers"
	@echo "make stack-up    start PostgreSQL, Redis and Unleash on loopback; write .stack/env"
	@echo "make stack-down  stop what stack-up started"
	@echo "make lint        ruff and mypy only"
	@echo "make mutation   mutmut over the pure cores with their unit tests; score per module"
	@echo "make bench       benchmarks on the real stack; results in bench/results/ (QUICK=1: shorter)"

system-packages:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$$missing fonts-dejavu-core"; \
	python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

unleash/node_modules/.installed: unleash/package.json unleash/package-lock.json
	cd unleash && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# @octokit/webhooks: the tests check that a real GitHub App framework accepts forwarded deliveries.
tests/node/node_modules/.installed: tests/node/package.json tests/node/package-lock.json
	cd tests/node && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

deps: system-packages unleash/node_modules/.installed tests/node/node_modules/.installed venv

stack-up: deps
	$(SWITCHYARD) stack up

stack-down:
	$(SWITCHYARD) stack down

provision: stack-up
	. .stack/env && $(SWITCHYARD) provision

demo: provision
	@. .stack/env && echo "Unleash UI: $$UNLEASH_URL  (user $$UNLEASH_UI_USER, password $$UNLEASH_UI_PASSWORD)"
	. .stack/env && $(SWITCHYARD) demo --fresh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: deps lint
	$(VENV)/bin/pytest --cov --cov-report=term

# Not part of `make test`: slow (README, "Mutation testing"). Starts from scratch every time.
mutation: venv
	rm -rf mutants
	$(VENV)/bin/mutmut run --max-children 2 > .mutmut.log 2>&1 || (tail -50 .mutmut.log; exit 1)
	$(PY) tests/mutation/report.py

# QUICK=1: shorter runs and fewer samples (about a minute instead of three or four).
bench: provision
	$(PY) bench/watchdog_sim.py $(if $(QUICK),--migrations 400)
	$(PY) bench/plan_sim.py $(if $(QUICK),--plans 50)
	. .stack/env && $(PY) bench/run_all.py $(if $(QUICK),--quick)

clean: stack-down
	rm -rf .stack
