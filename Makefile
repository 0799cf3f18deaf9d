# CivicSkills: `make run` serves the app with demo data, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install translations run test test-sqlite test-pg lint bench bench-smoke clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed translations

# Compiled catalogues (.mo) are built from the shipped .po files. Fuzzy (unreviewed)
# entries are left out, and a broken catalogue fails the build.
translations: $(VENV)/.installed
	$(BIN)/pybabel compile -d lms/translations -D messages

run: install
	$(FLASK) db upgrade
	$(FLASK) lms sync-content
	$(FLASK) lms demo
	$(FLASK) run --host $(HOST) --port $(PORT)

test: install
	$(BIN)/pytest -q -p no:cacheprovider
	$(BIN)/pytest -q -p no:cacheprovider --db postgresql -m "not browser"

test-sqlite: install
	$(BIN)/pytest -q

test-pg: install
	$(BIN)/pytest -q --db postgresql -m "not browser"

lint: install
	$(BIN)/ruff check lms tests bench

bench: install
	$(BIN)/python -m bench.run

bench-smoke: install
	$(BIN)/python -m bench.run --smoke

clean:
	rm -rf $(VENV) instance .pytest_cache
