"""tasks migration 0012: every organization's dashboard triggers run one shared copy of each
function in public, no schema keeps its own, and migrations of several organizations that
race to create the public copies all succeed."""

import importlib
import threading

import pytest
from django.db import connection, transaction

from tests.concurrency import TIMEOUT, Worker, finish, waits_on_a_lock

migration = importlib.import_module("tenant_apps.tasks.migrations.0012_shared_dashboard_functions")
NAMES = [name for _, name, _, _ in migration.TRIGGERS]


def _rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@pytest.mark.django_db
def test_every_tenant_schema_runs_the_public_copies_and_has_none_of_its_own(acme, globex):
    schemas = [
        row[0]
        for row in _rows(
            "SELECT nspname FROM pg_namespace WHERE nspname ~ '^(org|spare)_' ORDER BY 1"
        )
    ]
    assert {acme.schema_name, globex.schema_name} <= set(schemas)

    triggers = _rows(
        """
        SELECT n.nspname, t.tgname, fn.nspname
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace fn ON fn.oid = p.pronamespace
        WHERE n.nspname = ANY(%s) AND t.tgname = ANY(%s)
        """,
        [schemas, NAMES],
    )
    own = _rows(
        "SELECT n.nspname, p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = ANY(%s) AND p.proname = ANY(%s)",
        [schemas, NAMES],
    )
    shared = _rows(
        "SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace"
        " AND proname = ANY(%s) ORDER BY 1",
        [NAMES],
    )

    assert len(triggers) == len(schemas) * len(NAMES)
    assert {function_schema for _, _, function_schema in triggers} == {"public"}
    assert own == []
    assert [name for (name,) in shared] == sorted(NAMES)


PROBE = "probe_0012"
SCHEMAS = ("probe_0012_a", "probe_0012_b")


@pytest.fixture
def probe_schemas(django_db_blocker):
    """Two committed, empty schemas; public has no PROBE. Dropped afterwards, with public's
    copy."""
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            for schema in SCHEMAS:
                cursor.execute(f"CREATE SCHEMA {schema}")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                for schema in SCHEMAS:
                    cursor.execute(f"DROP SCHEMA {schema} CASCADE")
                cursor.execute(f"DROP FUNCTION IF EXISTS public.{PROBE}()")


def _migrate_from_scratch(cursor, schema: str, copy: str, migrated=None, release=None) -> None:
    """What a new organization's migrations do in one transaction, on a small scale: a table,
    the schema's own trigger function and a trigger naming it (0005), then 0012's steps."""
    cursor.execute(f"SET LOCAL search_path = {schema}, public")
    cursor.execute("CREATE TABLE probe (id int)")
    cursor.execute(
        f"CREATE FUNCTION {PROBE}() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RETURN NULL; END $$"
    )
    trigger = "CREATE OR REPLACE TRIGGER probe AFTER INSERT ON probe REFERENCING NEW TABLE"
    cursor.execute(f"{trigger} AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {PROBE}()")
    cursor.execute(copy)
    if migrated is not None:
        migrated.set()
        assert release.wait(TIMEOUT)
    cursor.execute(f"{trigger} AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.{PROBE}()")
    cursor.execute(f"DROP FUNCTION {PROBE}()")


def test_organizations_migrated_at_once_create_the_public_copy_once(
    probe_schemas, django_db_blocker
):
    """The first migration creates the copy and holds the lock to its commit; the second,
    which found no copy before the lock, waits, then finds the committed one instead of
    failing on a duplicate (as a check through the catalogue cache did), and points its
    trigger at it although it looked the name up before that copy existed."""
    copy = migration.to_public(f"'{PROBE}'")
    migrated, release = threading.Event(), threading.Event()

    def first():
        with transaction.atomic(), connection.cursor() as cursor:
            _migrate_from_scratch(cursor, SCHEMAS[0], copy, migrated, release)

    def second():
        with transaction.atomic(), connection.cursor() as cursor:
            _migrate_from_scratch(cursor, SCHEMAS[1], copy)

    with django_db_blocker.unblock():
        holder = Worker(first)
        holder.start()
        assert migrated.wait(TIMEOUT)
        racer = Worker(second)
        racer.start()
        assert waits_on_a_lock(racer)
        finish(holder, racer, release=release)
        copies = _rows(
            "SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE p.proname = %s ORDER BY 1",
            [PROBE],
        )
        triggers = _rows(
            "SELECT n.nspname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid"
            " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE t.tgname = 'probe'"
        )

    assert holder.error is None and racer.error is None, (holder.error, racer.error)
    assert [schema for (schema,) in copies] == ["public"]
    assert [schema for (schema,) in triggers] == ["public", "public"]
