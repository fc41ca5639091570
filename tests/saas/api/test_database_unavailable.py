"""PostgreSQL unavailable while a request runs: a 503 JSON answer with Retry-After wherever it
shows (a view, the organization lookup, another middleware), in both DEBUG modes; a query
that fails is still a 500. tests/faults/test_postgres_restart.py restarts a real server."""

import pytest
from django.db import OperationalError
from rest_framework.test import APIClient

from saas.api.messages import DATABASE_UNAVAILABLE
from saas.api.middleware import ApiTrailingSlashMiddleware
from shared_apps.accounts.authentication import BearerTokenAuthentication
from shared_apps.organizations.middleware import OrganizationMiddleware
from tests.factories import client_for

pytestmark = pytest.mark.django_db


class DriverError(Exception):
    def __init__(self, pgcode):
        super().__init__(pgcode)
        self.pgcode = pgcode


def raising(pgcode=None):
    """A callable raising what Django raises when psycopg2 reports `pgcode` (None: the
    connection was refused or lost)."""

    def fail(*args, **kwargs):
        error = OperationalError("server closed the connection unexpectedly")
        error.__cause__ = DriverError(pgcode)
        raise error

    return fail


def assert_unavailable(response):
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": DATABASE_UNAVAILABLE}
    assert response["Retry-After"] == "5"


def test_a_view_that_loses_the_database_answers_503(acme, acme_member, monkeypatch, caplog):
    client = client_for(acme_member, acme)
    monkeypatch.setattr(BearerTokenAuthentication, "authenticate", raising())

    response = client.get("/api/projects/")

    assert_unavailable(response)
    assert "Database unavailable" in caplog.text
    assert "Traceback" not in caplog.text


def test_a_failing_query_is_still_a_500(acme, acme_member, monkeypatch):
    client = client_for(acme_member, acme)
    client.raise_request_exception = False
    monkeypatch.setattr(BearerTokenAuthentication, "authenticate", raising("57014"))

    response = client.get("/api/projects/")

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}


@pytest.mark.parametrize("debug", [True, False], ids=["DEBUG on", "DEBUG off"])
def test_the_organization_lookup_losing_the_database_answers_503(
    acme, settings, monkeypatch, debug
):
    settings.DEBUG = debug
    monkeypatch.setattr(OrganizationMiddleware, "get_tenant", raising("57P01"))

    assert_unavailable(APIClient(HTTP_HOST=acme.domain).get("/api/projects/"))
    assert_unavailable(APIClient(HTTP_HOST="localhost").get("/api/auth/me/"))


def test_any_other_middleware_losing_the_database_answers_503(acme, settings, monkeypatch):
    settings.DEBUG = False  # production: Django's handler500 answers
    monkeypatch.setattr(ApiTrailingSlashMiddleware, "__call__", raising())
    client = APIClient(HTTP_HOST=acme.domain, raise_request_exception=False)

    assert_unavailable(client.get("/api/projects/"))
