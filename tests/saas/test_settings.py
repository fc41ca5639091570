"""Settings read from the environment: values in any case, and a clear refusal to start on a
value that is not one (rather than a traceback from deep inside Django's logging set-up)."""

import os
import subprocess
import sys

import pytest
from django.conf import settings


def run_check(**environment: str) -> subprocess.CompletedProcess:
    """`manage.py check` in a process of its own with these variables set."""
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "saas.settings", **environment},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("value", ["debug", "Warning", " error ", "INFO"])
def test_log_level_is_taken_in_any_case(value):
    # gunicorn_conf.py passes the same variable to gunicorn in lower case.
    result = run_check(LOG_LEVEL=value)

    assert result.returncode == 0, result.stderr


def test_an_unknown_log_level_stops_the_start_naming_the_levels():
    result = run_check(LOG_LEVEL="loud")

    assert result.returncode != 0
    assert "LOG_LEVEL='loud' is not a log level: use one of DEBUG, INFO, WARNING, ERROR" in (
        result.stderr
    )
