# Evaluation Workbench — the two README commands are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := workbench

.PHONY: run test fuzz venv install system-deps migrate demo serve lint translations clean bench \
	guide-screenshots

## run: install into .venv, migrate the SQLite database, load demo data, serve on 127.0.0.1:5000
run: install migrate demo serve

## test: install what the tests need (Python and Debian packages), check the import contracts
## (pyproject.toml [tool.importlinter], docs/architecture.md "Layers"), run the whole suite
test: install system-deps
	$(BIN)/lint-imports --no-cache
	@$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

## fuzz: the property tests and fuzzers with random draws and more examples (not a gate: `make test`
## and CI draw the same examples every run; a failure found here becomes an @example)
fuzz: install
	HYPOTHESIS_PROFILE=explore FUZZ_EXAMPLES=200 $(BIN)/python -m pytest -q tests/core tests/security

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

system-deps:
	scripts/install-system-deps.sh

migrate: install
	$(BIN)/flask db upgrade

demo: install
	$(BIN)/flask demo

serve: install
	@echo "Serving on http://$(HOST):$(PORT)/  (demo logins above; Ctrl-C to stop)"
	@# exec: gunicorn replaces the shell and gets the signals; workbench/gunicorn_conf.py masks
	@# tokens in the access log and makes every worker exit when the master dies (no orphans
	@# holding the port; docs/production.md)
	exec $(BIN)/gunicorn -c python:workbench.gunicorn_conf --workers 2 --worker-class sync \
		--timeout 120 --bind $(HOST):$(PORT) --access-logfile - wsgi:app

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

## translations: re-extract messages, update the catalogs and compile them
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ --no-location --sort-output \
		-o workbench/translations/messages.pot .
	$(BIN)/pybabel update -i workbench/translations/messages.pot -d workbench/translations \
		--no-fuzzy-matching
	$(BIN)/pybabel compile -d workbench/translations --statistics

## bench: every benchmark and the load/durability checks on SQLite (≈3 min; figures in docs/performance.md)
bench: install
	$(BIN)/python bench/scoring_engine.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/report_build.py
	$(BIN)/python bench/survey_import.py --format both
	$(BIN)/python bench/survey_load.py
	$(BIN)/python bench/crash_durability.py
	$(BIN)/python bench/backup_under_load.py

## guide-screenshots: issue the demo report in Chromium on a throw-away database and write the
## user guide's report screenshots (docs/guide/img/demo-report-issued.png, demo-client-issued-report.png)
guide-screenshots: install system-deps
	$(BIN)/python scripts/guide_screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache tests/artifacts/*.png
