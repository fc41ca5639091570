# Two commands do everything on a fresh machine: `make run` and `make test`.
# Without DATABASE_URL an embedded PostgreSQL 16 (pgserver) is started under .data/postgres.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
ARGS ?=

# Development-only fallbacks; a real environment (or .env) overrides them.
export SECRET_KEY ?= insecure-key-for-make-run-and-make-test-only
export PYTHONWARNINGS ?= ignore::UserWarning:platformdirs.api

# Resolves DATABASE_URL: the one given, else the embedded server's (started on demand).
WITH_DB = DATABASE_URL="$$($(BIN)/python -m saas.devdb)" && export DATABASE_URL &&

.PHONY: install run test lint bench migrate demo check db-stop clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(WITH_DB) $(BIN)/python manage.py migrate_schemas --noinput

demo: $(STAMP)
	$(WITH_DB) DEBUG=true $(BIN)/python manage.py seed_demo

run: $(STAMP)
	$(WITH_DB) export DEBUG="$${DEBUG:-true}" && \
	  $(BIN)/python manage.py migrate_schemas --noinput && \
	  $(BIN)/python manage.py seed_demo && \
	  exec $(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(STAMP)
	$(WITH_DB) \
	  $(BIN)/python manage.py migrate_schemas --noinput && \
	  DEBUG=true $(BIN)/python manage.py seed_demo && \
	  $(BIN)/python -m pytest $(ARGS)

# Benchmarks print tables; TASKS sets the size of the scale organization (created once).
TASKS ?= 1000000
bench: $(STAMP)
	$(WITH_DB) $(BIN)/python manage.py migrate_schemas --noinput && \
	  DJANGO_SETTINGS_MODULE=saas.settings $(BIN)/python -m bench.task_list --tasks $(TASKS)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

check: $(STAMP)
	$(WITH_DB) $(BIN)/python manage.py check && \
	  $(BIN)/python manage.py makemigrations --check --dry-run

db-stop:
	test ! -x $(BIN)/python || $(BIN)/python -m saas.devdb stop

clean: db-stop
	rm -rf $(VENV) .data .pytest_cache
