"""The backend for transaction pooling (saas/db/base.py), on a connection of its own to the
test database: the schema travels inside each transaction and never stays on the server
connection, whatever runs. tests/faults/test_pgbouncer.py runs it behind a real PgBouncer."""

import io

import psycopg2
import pytest
from django.conf import settings
from django.db.utils import load_backend

pytestmark = pytest.mark.django_db(transaction=False)

DEFAULT_PATH = '"$user", public'


@pytest.fixture
def pinned(acme):
    """A connection through saas.db (DATABASE_POOL_MODE=transaction) to the test database,
    in autocommit, on acme's schema; closed afterwards. The test database's organizations
    are committed, so this second connection sees them."""
    settings_dict = {**settings.DATABASES["default"], "ENGINE": "saas.db"}
    wrapper = load_backend("saas.db").DatabaseWrapper(settings_dict, alias="default")
    wrapper.set_schema(acme.schema_name)
    yield wrapper
    wrapper.close()


def rows(wrapper, sql: str, params=None) -> list[tuple]:
    with wrapper.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def session_search_path(wrapper) -> str:
    """What the server connection itself holds (a plain cursor: nothing pinned)."""
    with psycopg2.extensions.cursor(wrapper.connection) as cursor:
        cursor.execute("SHOW search_path")
        return cursor.fetchone()[0]


def test_a_statement_outside_a_transaction_carries_its_schema_and_leaves_none_behind(pinned):
    assert rows(pinned, "SELECT current_schemas(false)") == [(["org_acme", "public"],)]
    # Parameters next to the prefix: `%` in values and placeholders both intact.
    assert rows(pinned, "SELECT %s, %s", ["50%", "x"]) == [("50%", "x")]
    assert rows(pinned, "SELECT count(*) FROM tasks_task WHERE title LIKE %s", ["%"])
    # Only statements that cannot run in a transaction go unpinned, not any that names one.
    assert rows(pinned, "SELECT 'VACUUM concurrently', current_schemas(false)") == [
        ("VACUUM concurrently", ["org_acme", "public"])
    ]
    assert session_search_path(pinned) == DEFAULT_PATH

    pinned.set_schema_to_public()
    assert rows(pinned, "SELECT current_schemas(false)") == [(["public"],)]
    assert session_search_path(pinned) == DEFAULT_PATH


def test_a_transaction_is_pinned_once_and_again_when_the_schema_changes(pinned):
    pinned.set_autocommit(False)
    try:
        # The isolation level can still be set after the pin (a SET is not a query).
        rows(pinned, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; SELECT 1")
        assert rows(pinned, "SHOW transaction_isolation") == [("repeatable read",)]
        assert rows(pinned, "SELECT current_schemas(false)") == [(["org_acme", "public"],)]
        pinned.set_schema_to_public()
        assert rows(pinned, "SELECT current_schemas(false)") == [(["public"],)]
        pinned.set_schema("org_globex")
        assert rows(pinned, "SELECT current_schemas(false)") == [(["org_globex", "public"],)]
        pinned.commit()
        assert session_search_path(pinned) == DEFAULT_PATH
        # The next transaction is pinned afresh.
        assert rows(pinned, "SELECT current_schemas(false)") == [(["org_globex", "public"],)]
    finally:
        pinned.rollback()
        pinned.set_autocommit(True)


def test_a_savepoint_rolled_back_takes_its_pin_with_it_and_the_next_statement_pins_again(
    pinned,
):
    pinned.set_autocommit(False)
    try:
        rows(pinned, "SELECT 1")
        savepoint = pinned.savepoint()
        pinned.set_schema_to_public()
        assert rows(pinned, "SELECT current_schemas(false)") == [(["public"],)]
        pinned.savepoint_rollback(savepoint)  # PostgreSQL is back on org_acme...
        pinned.set_schema("org_globex")
        # ...and the statement after the rollback pins the schema asked for, not that one.
        assert rows(pinned, "SELECT current_schemas(false)") == [(["org_globex", "public"],)]
    finally:
        pinned.rollback()
        pinned.set_autocommit(True)


def test_a_transaction_begun_by_djangos_health_check_is_still_pinned(pinned):
    """CONN_HEALTH_CHECKS runs `SELECT 1` on a cursor of its own: inside an atomic block that
    statement opens the transaction, before any cursor of this backend runs."""
    pinned.set_autocommit(False)  # a previous transaction pinned the same schema
    rows(pinned, "SELECT 1")
    pinned.commit()
    pinned.set_autocommit(True)

    pinned.set_autocommit(False)
    try:
        assert pinned.is_usable()
        assert rows(pinned, "SELECT current_schemas(false)") == [(["org_acme", "public"],)]
    finally:
        pinned.rollback()
        pinned.set_autocommit(True)


def test_a_failed_statement_leaves_the_rollback_to_run(pinned):
    pinned.set_autocommit(False)
    try:
        savepoint = pinned.savepoint()
        with pytest.raises(Exception, match="division by zero"):
            rows(pinned, "SELECT 1 / 0")
        pinned.savepoint_rollback(savepoint)  # no pin attempted in the failed transaction
        assert rows(pinned, "SELECT current_schemas(false)") == [(["org_acme", "public"],)]
    finally:
        pinned.rollback()
        pinned.set_autocommit(True)


def test_statements_postgresql_refuses_in_a_transaction_block_are_sent_as_they_are(pinned):
    rows_before = rows(pinned, "SELECT 1")
    with pinned.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) public.django_migrations")
    assert rows(pinned, "SELECT 1") == rows_before


def test_copy_needs_a_transaction_and_reads_its_schema(pinned):
    out = io.BytesIO()
    with pinned.cursor() as cursor, pytest.raises(psycopg2.ProgrammingError, match="atomic"):
        cursor.copy_expert("COPY (SELECT current_schemas(false)) TO STDOUT", out)

    pinned.set_autocommit(False)
    try:
        with pinned.cursor() as cursor:
            cursor.copy_expert("COPY (SELECT current_schemas(false)) TO STDOUT", out)
    finally:
        pinned.rollback()
        pinned.set_autocommit(True)
    assert out.getvalue() == b"{org_acme,public}\n"


def test_server_side_cursors_are_off_behind_the_pooler(pinned):
    assert pinned.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] is True


def test_the_stock_backend_leaves_the_schema_on_the_server_connection(acme):
    """What the pinned backend avoids: django-tenants' `SET search_path` is session state,
    which a transaction pooler would hand to the next client of that server connection."""
    stock = load_backend("django_tenants.postgresql_backend").DatabaseWrapper(
        dict(settings.DATABASES["default"]), alias="default"
    )
    try:
        stock.set_schema(acme.schema_name)
        rows(stock, "SELECT 1")
        assert session_search_path(stock) == "org_acme, public"
    finally:
        stock.close()
