"""Connections closed once they have served CONN_MAX_SCHEMAS organizations (saas/db/recycle.py),
on a connection of its own to the test database (the test's own is inside its transaction)."""

import time
from unittest import mock

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.db.utils import load_backend
from django.http import HttpResponse, StreamingHttpResponse
from django.test import RequestFactory

from saas.celery import _count_job_organization, _recycle_connections
from saas.db.recycle import RecycleConnectionsMiddleware, connection_recycle_if_spent

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def own():
    """A django-tenants connection of its own to the test database (alias "default", as the
    application's), closed afterwards."""
    engine = "django_tenants.postgresql_backend"
    wrapper = load_backend(engine).DatabaseWrapper(
        {**settings.DATABASES["default"], "ENGINE": engine}, alias="default"
    )
    yield wrapper
    wrapper.close()


def serve(wrapper, schema_name: str) -> int:
    """Run a query on `schema_name` as a request there would; the backend's pid."""
    wrapper.set_schema(schema_name)
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid() FROM django_migrations LIMIT 1")
        return cursor.fetchone()[0]


def backend_gone(pid: int) -> bool:
    """Whether the server process `pid` has ended (it exits just after the client hangs up)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            # The test's transaction would otherwise see its first snapshot of the activity.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone()[0] == 0:
                return True
        time.sleep(0.05)
    return False


def test_a_connection_is_closed_once_it_has_served_the_limit_of_organizations(own, acme, globex):
    pid = serve(own, acme.schema_name)
    assert connection_recycle_if_spent(own, limit=2) is False
    assert serve(own, acme.schema_name) == pid  # the same organization again counts once
    assert connection_recycle_if_spent(own, limit=2) is False

    assert serve(own, globex.schema_name) == pid
    assert connection_recycle_if_spent(own, limit=2) is True
    assert own.connection is None
    assert backend_gone(pid)

    # The next query opens a new backend, on the schema the wrapper is on, with a new count.
    assert serve(own, globex.schema_name) != pid
    assert connection_recycle_if_spent(own, limit=2) is False
    assert own.connection is not None


def test_the_public_schema_is_not_counted(own, acme):
    own.set_schema_to_public()
    with own.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert connection_recycle_if_spent(own, limit=2) is False
    serve(own, acme.schema_name)
    assert connection_recycle_if_spent(own, limit=2) is False
    assert own.connection is not None


def test_a_connection_is_never_closed_inside_a_transaction(own, acme, globex):
    serve(own, acme.schema_name)
    connection_recycle_if_spent(own, limit=2)
    # transaction.atomic() on `own` (it looks connections up by alias, and "default" is the
    # test's own connection).
    with mock.patch("django.db.transaction.get_connection", return_value=own):
        with transaction.atomic():
            serve(own, globex.schema_name)
            assert connection_recycle_if_spent(own, limit=2) is False
            assert own.connection is not None
    # Once the transaction is over, the next count closes it.
    assert connection_recycle_if_spent(own, limit=2) is True


def test_a_limit_of_zero_only_counts(own, acme, globex):
    serve(own, acme.schema_name)
    assert connection_recycle_if_spent(own, limit=0) is False
    serve(own, globex.schema_name)
    assert connection_recycle_if_spent(own, limit=0) is False
    assert own.connection is not None
    # What was counted still counts when a limit applies.
    assert connection_recycle_if_spent(own, limit=2) is True


def test_an_organization_counted_before_the_connection_opens_counts_for_it(own, acme, globex):
    """A worker's job: its organization is counted when the job starts, which may be before
    the job's first query opens the connection."""
    own.set_schema(acme.schema_name)
    assert own.connection is None
    assert connection_recycle_if_spent(own, limit=2) is False
    serve(own, globex.schema_name)
    assert connection_recycle_if_spent(own, limit=2) is True


def middleware_on(own, response):
    """The middleware, seeing `own` as the thread's only connection."""
    connections = mock.Mock()
    connections.all.return_value = [own]
    patch = mock.patch("saas.db.recycle.connections", connections)
    return patch, RecycleConnectionsMiddleware(lambda request: response)


def test_the_middleware_closes_the_connection_after_the_limit(own, acme, globex, settings):
    settings.CONN_MAX_SCHEMAS = 2
    patch, middleware = middleware_on(own, HttpResponse("ok"))
    request = RequestFactory().get("/api/tasks/")
    with patch:
        pid = serve(own, acme.schema_name)
        assert middleware(request).content == b"ok"
        assert own.connection is not None
        serve(own, globex.schema_name)
        middleware(request)
    assert own.connection is None
    assert backend_gone(pid)


def test_a_streamed_response_is_counted_but_its_connection_stays_open(own, acme, globex, settings):
    """Its body may still query while it is sent; the next response closes it."""
    settings.CONN_MAX_SCHEMAS = 2
    request = RequestFactory().get("/api/exports/1/download/")
    patch, streaming = middleware_on(own, StreamingHttpResponse(iter([b"a,b\n"])))
    with patch:
        serve(own, acme.schema_name)
        streaming(request)
        serve(own, globex.schema_name)
        streaming(request)
        assert own.connection is not None
    patch, plain = middleware_on(own, HttpResponse("ok"))
    with patch:
        plain(request)  # on globex still: both counted
    assert own.connection is None


@pytest.mark.parametrize(
    ("setting", "value"), [("CONN_MAX_SCHEMAS", 0), ("DATABASE_POOL_MODE", "transaction")]
)
def test_nothing_is_closed_when_off_or_behind_a_transaction_pooler(
    own, acme, globex, settings, setting, value
):
    """Behind PgBouncer in transaction mode our connections end at the pooler: closing them
    would recycle no PostgreSQL backend."""
    settings.CONN_MAX_SCHEMAS = 1
    setattr(settings, setting, value)
    patch, middleware = middleware_on(own, HttpResponse("ok"))
    with patch:
        for organization in (acme, globex):
            serve(own, organization.schema_name)
            middleware(RequestFactory().get("/"))
    assert own.connection is not None


def test_worker_jobs_count_their_organization_and_close_after_the_limit(
    own, acme, globex, settings
):
    """saas/celery.py: counted when a job starts (tenant-schemas-celery has switched to its
    organization), closed when it ends (it has switched back to public by then)."""
    settings.CONN_MAX_SCHEMAS = 2
    connections = mock.Mock()
    connections.all.return_value = [own]
    with mock.patch("saas.db.recycle.connections", connections):
        for organization in (acme, globex):
            own.set_schema(organization.schema_name)
            _count_job_organization()
            serve(own, organization.schema_name)
            own.set_schema_to_public()
            _recycle_connections()
            if organization == acme:
                assert own.connection is not None
    assert own.connection is None
