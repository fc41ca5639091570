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
    """Two committed schemas, each with its own trigger function PROBE, as two organizations
    before 0012; public has none. Dropped afterwards, with public's copy."""
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            for schema in SCHEMAS:
                cursor.execute(f"CREATE SCHEMA {schema}")
                cursor.execute(
                    f"CREATE FUNCTION {schema}.{PROBE}() RETURNS trigger LANGUAGE plpgsql"
                    " AS $$ BEGIN RETURN NULL; END $$"
                )
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                for schema in SCHEMAS:
                    cursor.execute(f"DROP SCHEMA {schema} CASCADE")
                cursor.execute(f"DROP FUNCTION IF EXISTS public.{PROBE}()")


def test_organizations_migrated_at_once_create_the_public_copy_once(
    probe_schemas, django_db_blocker
):
    """The first migration creates the copy and holds the lock to its commit; the second,
    which found no copy before the lock, waits, then finds the committed one instead of
    failing on a duplicate (as a check through the catalogue cache did)."""
    copy = migration.to_public(f"'{PROBE}'")
    created, release = threading.Event(), threading.Event()

    def first():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL search_path = {SCHEMAS[0]}, public")
            cursor.execute(copy)
            created.set()
            assert release.wait(TIMEOUT)

    def second():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL search_path = {SCHEMAS[1]}, public")
            cursor.execute(copy)

    with django_db_blocker.unblock():
        holder = Worker(first)
        holder.start()
        assert created.wait(TIMEOUT)
        racer = Worker(second)
        racer.start()
        assert waits_on_a_lock(racer)
        finish(holder, racer, release=release)
        copies = _rows(
            "SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE p.proname = %s ORDER BY 1",
            [PROBE],
        )

    assert holder.error is None and racer.error is None, (holder.error, racer.error)
    assert [schema for (schema,) in copies] == sorted(["public", *SCHEMAS])
