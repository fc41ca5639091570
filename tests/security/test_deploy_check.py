"""Production configuration: `manage.py check --deploy --fail-level WARNING` passes with the
production settings given through the environment (as .env.example documents them), and with
DEBUG off a server error is a JSON 500 with no traceback, whichever layer failed."""

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client

from shared_apps.accounts import pages
from shared_apps.organizations.middleware import OrganizationMiddleware
from tenant_apps.tasks import apis
from tests.dev_server import database_url
from tests.factories import client_for, make_member

INTERNAL_ERROR = {"detail": "Internal server error."}


def production_environment(**overrides: str) -> dict[str, str]:
    """The environment of a production deployment behind a TLS proxy (.env.example): nothing
    inherited from the development shell but the paths and the servers."""
    keep = ("PATH", "HOME", "LANG", "REDIS_URL")
    environment = {name: os.environ[name] for name in keep if name in os.environ}
    environment.update(
        DJANGO_SETTINGS_MODULE="saas.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=database_url(settings.DATABASES["default"]),
        BASE_DOMAIN="tasks.example.com",
        SITE_SCHEME="https",
        SITE_PORT="",
        CSRF_TRUSTED_ORIGINS="https://tasks.example.com,https://*.tasks.example.com",
        TRUST_X_FORWARDED_PROTO="true",
        SECURE_SSL_REDIRECT="true",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_PRELOAD="true",
        SESSION_COOKIE_SECURE="true",
        EMAIL_URL="smtp://mailer:secret@smtp.example.com:587?tls=true",
    )
    environment.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    environment.update(overrides)
    return environment


def check_deploy(environment: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_production_settings_from_the_environment():
    result = check_deploy(production_environment())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


# Production settings, weakened, and the issue the check then names (HSTS itself, W004, is
# left on: without it the check does not look at preload).
WEAKENED = {
    "SITE_SCHEME": ("http", "accounts.W001"),
    "SECURE_SSL_REDIRECT": ("false", "security.W008"),
    "SESSION_COOKIE_SECURE": ("false", "security.W012"),
    "SECRET_KEY": ("short", "security.W009"),
    "SECURE_HSTS_PRELOAD": ("false", "security.W021"),
}


def test_check_deploy_names_every_production_setting_that_is_missing():
    """The control: the check reads the environment, and each of these settings matters."""
    weakened = {name: value for name, (value, _) in WEAKENED.items()}

    result = check_deploy(production_environment(**weakened))

    assert result.returncode != 0
    for name, (_, issue) in WEAKENED.items():
        assert issue in result.stdout + result.stderr, (name, result.stderr)


def test_production_refuses_to_start_without_a_secret_key():
    environment = production_environment()
    del environment["SECRET_KEY"]

    result = check_deploy(environment)

    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


def _fail(*args, **kwargs):
    raise RuntimeError("a bug with a secret in its message: hunter2")


@pytest.mark.django_db
@pytest.mark.parametrize("layer", ["api view", "page", "routing middleware"])
def test_with_debug_off_a_server_error_is_a_json_500_without_a_traceback(
    acme, settings, monkeypatch, layer
):
    settings.DEBUG = False
    if layer == "api view":
        monkeypatch.setattr(apis, "task_list", _fail)
        client = client_for(make_member(acme), acme)
        path = "/api/tasks/"
    elif layer == "page":
        monkeypatch.setattr(pages.SetPasswordDonePage, "get", _fail)
        client, path = Client(HTTP_HOST="localhost"), "/accounts/reset/done/"
    else:
        monkeypatch.setattr(OrganizationMiddleware, "get_tenant", _fail)
        client, path = Client(HTTP_HOST=acme.domain), "/api/projects/"
    client.raise_request_exception = False

    response = client.get(path)

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == INTERNAL_ERROR
    body = response.content.decode()
    for leak in ("Traceback", "hunter2", "RuntimeError", ".py"):
        assert leak not in body
