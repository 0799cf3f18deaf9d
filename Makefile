# CivicSkills: `make run` serves the app with demo data, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install translations run test test-sqlite test-pg test-browser lint bench bench-smoke \
	bench-national bench-http bench-quiz bench-tools clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip setuptools
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed translations node_modules/axe-core/axe.min.js

# axe-core, exactly as package-lock.json pins it: tests/browser/axe.py injects it into the
# pages under test (it is never served). npm comes from Debian (.ci/run installs it). Without
# npm the app still installs and runs; the accessibility scans skip (and fail under CI).
node_modules/axe-core/axe.min.js: package.json package-lock.json
	@if ! command -v npm >/dev/null; then \
		echo "npm is missing (apt-get install npm): no axe-core, accessibility scans skip" >&2; \
		if [[ -n "$${CI:-}" ]]; then exit 1; else exit 0; fi; \
	fi; \
	npm ci --no-audit --no-fund && touch $@

# Compiled catalogues (.mo) are built from the shipped .po files. Fuzzy (unreviewed)
# entries are left out, and a broken catalogue fails the build.
translations: $(VENV)/.installed
	$(BIN)/pybabel compile -d lms/translations -D messages

# The scheduler (`flask lms scheduler`: the outbox sender, digests, reminders, snapshots) runs
# beside the web server; when either the server stops or make is stopped (Ctrl-C, a signal),
# both are stopped, the scheduler after its running job.
run: install
	$(FLASK) db upgrade
	$(FLASK) lms sync-content
	$(FLASK) lms demo
	$(FLASK) lms scheduler & scheduler=$$!; \
	$(FLASK) run --host $(HOST) --port $(PORT) & server=$$!; \
	trap 'kill $$server $$scheduler 2>/dev/null; wait' EXIT INT TERM; \
	wait $$server

test: install
	$(BIN)/pytest -q -p no:cacheprovider
	$(BIN)/pytest -q -p no:cacheprovider --db postgresql -m "not browser"

test-sqlite: install
	$(BIN)/pytest -q

test-pg: install
	$(BIN)/pytest -q --db postgresql -m "not browser"

test-browser: install
	$(BIN)/pytest -q tests/browser

lint: install
	$(BIN)/ruff check lms tests bench

# Insecure patterns in the code (bandit; its configuration and the reason for each check it
# skips are in pyproject.toml), then known vulnerabilities in exactly the pinned versions the
# virtual environment holds (`pip freeze`, the editable project itself left out), checked by
# pip-audit against PyPI's vulnerability feed, else OSV's. A vulnerability fails the target
# unless its id is listed, with a reason, in .pip-audit-ignore. pip-audit needs the network:
# 3 attempts, and when no service answers at all it prints a loud warning and goes on.
AUDIT_NO_SERVICE := ConnectionError|Could not connect|could not be audited|Max retries
AUDIT_NO_SERVICE := $(AUDIT_NO_SERVICE)|Failed to resolve|Name or service not known
AUDIT_NO_SERVICE := $(AUDIT_NO_SERVICE)|name resolution|timed out|Connection refused
AUDIT_NO_SERVICE := $(AUDIT_NO_SERVICE)|Network is unreachable|ServiceError|HTTPError|SSLError
.PHONY: security-scan
security-scan: $(VENV)/.installed
	$(BIN)/bandit -c pyproject.toml -r lms -q
	@echo "bandit: no issues"
	@requirements=$$(mktemp) log=$$(mktemp); trap 'rm -f "$$requirements" "$$log"' EXIT; \
	$(BIN)/pip freeze --exclude-editable >"$$requirements" || exit 1; \
	ignores=(); if [[ -f .pip-audit-ignore ]]; then \
	  for id in $$(sed -e 's/#.*//' .pip-audit-ignore); do ignores+=(--ignore-vuln "$$id"); done; \
	fi; \
	for attempt in 1 2 3; do \
	  for service in pypi osv; do \
	    if $(BIN)/pip-audit --strict --desc on --progress-spinner off --timeout 30 \
	        --vulnerability-service $$service --requirement "$$requirements" --no-deps \
	        --disable-pip "$${ignores[@]}" >"$$log" 2>&1; then \
	      grep -v -e 'no-deps is supported' -e 'pip-compile' "$$log"; \
	      echo "pip-audit ($$service): $$(wc -l <"$$requirements") packages checked"; \
	      exit 0; \
	    fi; \
	    if grep -Eq 'Found [0-9]+ known vulnerabilit' "$$log"; then \
	      cat "$$log"; \
	      echo "pip-audit: upgrade the pin in pyproject.toml to a fixed version, or list the" \
	        "id with a reason in .pip-audit-ignore" >&2; \
	      exit 1; \
	    fi; \
	    if ! grep -Eq '$(AUDIT_NO_SERVICE)' "$$log"; then cat "$$log"; exit 1; fi; \
	    echo "pip-audit ($$service): no answer (attempt $$attempt of 3):" \
	      "$$(grep -E -m 1 '$(AUDIT_NO_SERVICE)' "$$log" | cut -c 1-160)" >&2; \
	  done; \
	  if [[ $$attempt != 3 ]]; then sleep $$((attempt * 5)); fi; \
	done; \
	{ echo; echo "########################################################################"; \
	  echo "# WARNING: pip-audit reached no vulnerability service (PyPI, OSV):"; \
	  echo "# the dependencies were NOT checked for known vulnerabilities."; \
	  echo "# Run make security-scan again where pypi.org or api.osv.dev answers."; \
	  echo "########################################################################"; \
	  echo; } >&2

bench: install bench-tools
	$(BIN)/python -m bench.run

# Debian's wrk (the HTTP load) and postgresql (bench-national), installed when missing and
# apt-get may run (as root, or with password-less sudo); otherwise their rows say why not.
bench-tools:
	@missing=""; command -v wrk >/dev/null || missing="$$missing wrk"; \
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	  else echo "bench: missing$$missing (apt-get install$$missing): those rows will say so"; \
	  exit 0; fi; \
	  $$sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q \
	    --no-install-recommends $$missing || echo "bench: could not install$$missing"; \
	fi

bench-smoke: install
	$(BIN)/python -m bench.run --smoke

# A country (2,000,000 staff, ~12,000 units) on a private PostgreSQL server it starts and
# deletes (Debian's postgresql package); 8-11 min on 2 cores. ARGS="--staff 200000 --units 1200"
# for less, ARGS=--smoke for a check in seconds.
bench-national: install bench-tools
	$(BIN)/python -m bench.national $(ARGS)

# Only the HTTP rows (gunicorn + wrk); needs Debian's `wrk`.
bench-http: install bench-tools
	$(BIN)/python -m bench.http

# Only the quiz-submission rows (gunicorn + wrk, checked in the database); needs `wrk`.
bench-quiz: install bench-tools
	$(BIN)/python -m bench.quiz

clean:
	rm -rf $(VENV) instance .pytest_cache node_modules
