# The README's two commands: `make run` (set up and serve) and `make test` (the whole suite).
PYTHON ?= python3
# pipefail: `make bench | tee` must fail when the bench does
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Demonstration store (about 7 min for all France on 2 cores, the first time only);
# `make run DEMO=aucune` skips it.
DEMO ?= complete
HOST ?= 127.0.0.1
PORT ?= 8050
export HOST PORT

.PHONY: run serve sync build vendor vendor-dev test test-fast browser-deps topology-deps bench lint lint-js audit lock clean

# Exact versions from requirements.lock, then the project itself without resolving again;
# `pip check` fails when pyproject.toml asks for a package the lock lacks (run `make lock`).
$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check
	touch $(STAMP)

# Re-resolve pyproject.toml (with the test and redis extras) in a scratch venv into the lock.
lock:
	rm -rf .cache/lock-venv build
	$(PYTHON) -m venv .cache/lock-venv
	.cache/lock-venv/bin/pip install --quiet '.[test,redis]'
	{ echo "# Resolved versions of every Python package (project, test tools, Redis client), from \`make lock\`."; \
	  echo "# \`make run\` and \`make test\` install exactly these; \`make audit\` checks them with pip-audit."; \
	  .cache/lock-venv/bin/pip freeze --exclude-editable | grep -iv '^cafdata-carto'; } > requirements.lock
	rm -rf .cache/lock-venv build

# Known vulnerabilities of the locked versions (pip-audit, online): fails when one is found; names
# the packages it could not check and succeeds when the service is unreachable (offline CI).
audit: $(STAMP)
	$(PY) .ci/audit.py

vendor: $(STAMP)
	$(VENV)/bin/cafcarto vendor

build: $(STAMP)
	$(VENV)/bin/cafcarto build --demo $(DEMO)

# Real Cafdata: every dataset of the portal (CAFCARTO_PORTAL, default https://data.caf.fr) into
# the real store, served instead of the demonstration; a second run downloads only what changed.
# The territories first (sources and COG; up to date in a second), not the demonstration.
sync: $(STAMP)
	$(VENV)/bin/cafcarto build --demo aucune
	$(VENV)/bin/cafcarto sync

run: vendor build
	@echo "Cafdata Carto : http://$(HOST):$(PORT)"
	$(VENV)/bin/cafcarto serve

# Production server on this machine: gunicorn, WORKERS processes (see docs/deploy.md).
WORKERS ?= 2
serve: vendor build
	$(VENV)/bin/cafcarto serve --workers $(WORKERS)

# Debian's Chromium and its driver, for the browser tests (installed when missing and root).
browser-deps:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	  else echo "chromium et chromium-driver manquent : installez-les (apt-get install chromium chromium-driver)"; exit 1; fi; \
	fi

# Debian's Redis, nginx and HAProxy, for the topology tests (tests/test_topology*.py start them on loopback
# ports; installed when missing and root). No service is enabled: the tests run the binaries.
topology-deps:
	@if ! command -v redis-server >/dev/null || ! command -v nginx >/dev/null \
	    || ! command -v haproxy >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server nginx haproxy; \
	  else echo "redis-server, nginx ou haproxy manque : installez-les (apt-get install redis-server nginx haproxy)"; exit 1; fi; \
	fi

# The tests also need axe-core (npm devDependency) for the accessibility audit.
vendor-dev: $(STAMP)
	$(VENV)/bin/cafcarto vendor --dev

test: $(STAMP) browser-deps topology-deps vendor-dev lint
	CAFCARTO_REQUIRE_BROWSER=1 CAFCARTO_REQUIRE_TOPOLOGY=1 $(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not browser and not slow"

bench: $(STAMP) browser-deps vendor build
	$(PY) -m bench 2>&1 | tee .cache/bench-report.txt

lint: $(STAMP) lint-js
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# ESLint (recommended rules, browser globals) on the browser scripts of assets/, with the exact
# versions of tools/jslint/package-lock.json (npm ci again when the manifest changes).
JSLINT := tools/jslint
JSLINT_STAMP := $(JSLINT)/node_modules/.installed
$(JSLINT_STAMP): $(JSLINT)/package.json $(JSLINT)/package-lock.json
	cd $(JSLINT) && npm ci --ignore-scripts --no-audit --no-fund --silent
	touch $(JSLINT_STAMP)

lint-js: $(JSLINT_STAMP)
	$(JSLINT)/node_modules/.bin/eslint --config $(JSLINT)/eslint.config.mjs --max-warnings 0 assets/

clean:
	rm -rf .cache/cafcarto
