"""DATABASE_POOL_MODE: the two supported modes, and the configurations that stop the start."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from saas.db.pooling import ENGINES, STATEMENT_MODE, WORKER_REFUSED, pool_mode
from saas.devserver import BASE_DIR
from tests.dev_server import database_url


def test_the_modes_and_their_backends():
    assert pool_mode("transaction") == "transaction"
    assert pool_mode(" Session ") == "session"
    assert pool_mode("") == "session"
    assert ENGINES == {"session": "saas.db.session", "transaction": "saas.db"}
    # The suite runs in the default mode, on django-tenants' backend (saas/db/session).
    assert settings.DATABASE_POOL_MODE == "session"
    assert settings.DATABASES["default"]["ENGINE"] == "saas.db.session"


def test_statement_pooling_and_unknown_modes_are_refused_naming_what_to_use():
    with pytest.raises(ImproperlyConfigured) as statement:
        pool_mode("statement")
    assert str(statement.value) == STATEMENT_MODE
    with pytest.raises(ImproperlyConfigured, match="'sessions' is not supported"):
        pool_mode("sessions")


def _run(command: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *command],
        cwd=BASE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_application_does_not_start_behind_statement_pooling():
    result = _run(["manage.py", "check"], DATABASE_POOL_MODE="statement")

    assert result.returncode != 0
    assert STATEMENT_MODE in result.stderr


def test_a_celery_worker_refuses_to_start_behind_a_transaction_pooler():
    result = _run(
        ["-m", "celery", "-A", "saas", "worker", "--pool=solo"],
        DATABASE_POOL_MODE="transaction",
        DATABASE_URL=database_url(settings.DATABASES["default"]),
        CELERY_BROKER_URL="memory://",
    )

    assert result.returncode != 0
    assert WORKER_REFUSED in result.stdout + result.stderr
