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
	$(BIN)/pip install --quiet --upgrade pip
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
