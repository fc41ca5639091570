"""What counts as "PostgreSQL unavailable" (a 503) and what stays an error of the query."""

import socket

import pytest
from django.conf import settings
from django.db import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.utils import load_backend

from saas.db.errors import database_unavailable


class DriverError(Exception):
    """What psycopg2 raises: the SQLSTATE in `pgcode` (None when libpq has none)."""

    def __init__(self, pgcode):
        super().__init__(pgcode)
        self.pgcode = pgcode


def _wrapped(error_class, pgcode):
    """The error as Django raises it: its own class, the driver's error as the cause."""
    error = error_class("from the driver")
    error.__cause__ = DriverError(pgcode)
    return error


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (_wrapped(OperationalError, None), True),  # refused, reset, closed by the server
        (_wrapped(InterfaceError, None), True),  # "connection already closed"
        (_wrapped(OperationalError, "08006"), True),  # connection_failure
        (_wrapped(OperationalError, "53300"), True),  # too_many_connections
        (_wrapped(OperationalError, "57P01"), True),  # admin_shutdown (a restart)
        (_wrapped(OperationalError, "57P03"), True),  # cannot_connect_now (starting up)
        (_wrapped(OperationalError, "57014"), False),  # query_canceled (statement timeout)
        (_wrapped(OperationalError, "40P01"), False),  # deadlock_detected
        (_wrapped(IntegrityError, None), False),
        (ValueError("not a database error"), False),
        (None, False),
    ],
)
def test_only_connection_failures_and_server_refusals_count(error, unavailable):
    assert database_unavailable(error) is unavailable


@pytest.mark.django_db  # pytest-django blocks every connection attempt otherwise
def test_a_server_that_refuses_connections_is_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    dead = load_backend("django_tenants.postgresql_backend").DatabaseWrapper(
        {**settings.DATABASES["default"], "HOST": "127.0.0.1", "PORT": port}, alias="default"
    )

    with pytest.raises(OperationalError) as refused:
        dead.ensure_connection()

    assert database_unavailable(refused.value)


@pytest.mark.django_db
def test_a_query_that_fails_is_not_unavailability():
    with pytest.raises(DataError) as division, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 / 0")
    with pytest.raises(OperationalError) as timeout, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 1")
            cursor.execute("SELECT pg_sleep(1)")

    assert not database_unavailable(division.value)
    assert not database_unavailable(timeout.value)
