"""migrate_schemas with the `fast` executor: up-to-date schemas are skipped without Django's
migrate, a new migration reaches every schema (spares too) through forked workers, and a
schema where it fails keeps its previous state while the others are migrated.

No `db` fixture: the executor works on committed schemas (its workers are other processes,
and inside a transaction it hands over to django-tenants' standard executor). What these
tests commit is removed afterwards, and so are the temporary migrations, from every schema.
"""

import io
import shutil
import sys
import uuid
from pathlib import Path
from unittest import mock

import pytest
from django.apps import apps
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.test import override_settings
from django_tenants.migration_executors.standard import StandardExecutor

from shared_apps.organizations.migration_executor import FastExecutor, get_executor
from shared_apps.organizations.migration_executor import executor as executor_module
from shared_apps.organizations.migration_executor.apply import LOCK_CLASS
from shared_apps.organizations.models import Domain, Membership, Organization
from shared_apps.organizations.schema_pool import spare_schema_names
from shared_apps.organizations.schema_pool.pool import spare_create, spare_drop
from shared_apps.organizations.schema_pool.state import forget_migration_state
from shared_apps.organizations.services import organization_create
from tests.factories import make_user, users_delete

APP = "exports"  # the tenant app the temporary migrations are added to
FIRST, SECOND = "9998_probe_first", "9999_probe_second"
FIRST_TABLE, SECOND_TABLE = "exports_probe_first", "exports_probe_second"

FIRST_SOURCE = f'''
from django.db import migrations


class Migration(migrations.Migration):
    atomic = {{atomic}}
    dependencies = [("{APP}", "{{leaf}}")]
    operations = [migrations.RunSQL({{statements!r}}, "DROP TABLE {FIRST_TABLE}")]
'''
# Refused inside a transaction block: only a migration with `atomic = False` can run it.
CONCURRENT_INDEX = f"CREATE INDEX CONCURRENTLY {FIRST_TABLE}_id ON {FIRST_TABLE} (id)"
# Fails in schema `failing` only, after creating its table there; kills the process that
# migrates schema `killed` (as the kernel's OOM killer would).
SECOND_SOURCE = f'''
import os

from django.db import migrations


def kill_the_worker(apps, schema_editor):
    if schema_editor.connection.schema_name == "{{killed}}":
        os._exit(9)


class Migration(migrations.Migration):
    dependencies = [("{APP}", "{FIRST}")]
    operations = [
        migrations.RunSQL(
            """
            CREATE TABLE {SECOND_TABLE} (id int);
            DO $$ BEGIN
                IF current_schema() = '{{failing}}' THEN
                    RAISE EXCEPTION 'probe failure in %', current_schema();
                END IF;
            END $$;
            """,
            "DROP TABLE {SECOND_TABLE}",
        ),
        migrations.RunPython(kill_the_worker, migrations.RunPython.noop),
    ]
'''


def _drop_organization(organization: Organization) -> None:
    Membership.objects.filter(organization=organization).delete()
    Domain.objects.filter(tenant=organization).delete()
    connection.set_schema_to_public()
    organization.delete(force_drop=True)


@pytest.fixture(scope="module")
def schemas(django_db_setup, django_db_blocker):
    """Two committed organizations of this module's own and one spare schema (besides the
    session's acme and globex); removed at the end of the module."""
    with django_db_blocker.unblock():
        assert connection.settings_dict["NAME"].startswith("test_"), "not the test database"
        admin = make_user()
        organizations = [
            organization_create(
                name=f"Migrations {n}", slug=f"mig-{uuid.uuid4().hex[:8]}", admin=admin
            )
            for n in (1, 2)
        ]
        spare = spare_create()
        try:
            yield [organization.schema_name for organization in organizations], spare
        finally:
            connection.set_schema_to_public()
            for organization in organizations:
                _drop_organization(organization)
            spare_drop(name=spare)
            users_delete("id = %s", [admin.pk])
            connection.close()


def _tenant_schemas() -> list[str]:
    """What migrate_schemas migrates besides public: organizations' schemas and spares."""
    organizations = Organization.objects.exclude(schema_name="public")
    return sorted([*organizations.values_list("schema_name", flat=True), *spare_schema_names()])


def _schemas_with_migrations() -> list[str]:
    """Every schema but public with a django_migrations table (left by any test)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid"
            " WHERE c.relname = 'django_migrations' AND n.nspname <> 'public' ORDER BY 1"
        )
        return [row[0] for row in cursor.fetchall()]


def _state(schema: str) -> dict[str, tuple[bool, bool]]:
    """For each temporary migration: (its table exists, it is recorded) in `schema`."""
    with connection.cursor() as cursor:
        result = {}
        for name, table in ((FIRST, FIRST_TABLE), (SECOND, SECOND_TABLE)):
            cursor.execute(
                f'SELECT to_regclass(%s) IS NOT NULL, EXISTS (SELECT 1 FROM "{schema}".'
                "django_migrations WHERE app = %s AND name = %s)",
                [f'"{schema}".{table}', APP, name],
            )
            result[name] = cursor.fetchone()
        return result


@pytest.fixture
def committed(schemas, django_db_blocker, tmp_path):
    """Real commits, and `probe(failing=..., killed=..., atomic=...)`: makes the app's
    migrations those on disk plus the two temporary ones until the test ends; they are then
    removed from every schema. `failing`: the schema where the second one raises; `killed`:
    the one whose worker process it kills; `atomic=False`: the first one runs outside a
    transaction (it creates an index concurrently)."""
    package = f"probe_migrations_{uuid.uuid4().hex[:8]}"
    overrides = []

    def probe(*, failing: str = "", killed: str = "", atomic: bool = True) -> None:
        folder = tmp_path / package
        folder.mkdir()
        for path in (Path(apps.get_app_config(APP).path) / "migrations").glob("*.py"):
            shutil.copy(path, folder / path.name)
        loader = MigrationLoader(None, ignore_no_migrations=True)
        (leaf,) = (name for app, name in loader.graph.leaf_nodes() if app == APP)
        statements = [f"CREATE TABLE {FIRST_TABLE} (id int)"]
        if not atomic:
            statements.append(CONCURRENT_INDEX)
        first = FIRST_SOURCE.format(atomic=atomic, leaf=leaf, statements=statements)
        (folder / f"{FIRST}.py").write_text(first)
        (folder / f"{SECOND}.py").write_text(SECOND_SOURCE.format(failing=failing, killed=killed))
        sys.path.insert(0, str(tmp_path))
        override = override_settings(MIGRATION_MODULES={APP: package})
        override.enable()
        overrides.append(override)

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        try:
            yield probe
        finally:
            for override in overrides:
                override.disable()
                sys.path.remove(str(tmp_path))
            for name in [module for module in sys.modules if module.startswith(package)]:
                del sys.modules[name]
            forget_migration_state()
            connection.set_schema_to_public()
            with connection.cursor() as cursor:
                for schema in ["public", *_schemas_with_migrations()]:
                    cursor.execute(
                        f'DROP TABLE IF EXISTS "{schema}".{FIRST_TABLE};'
                        f'DROP TABLE IF EXISTS "{schema}".{SECOND_TABLE};'
                        f'DELETE FROM "{schema}".django_migrations WHERE app = %s AND name IN (%s, %s)',
                        [APP, FIRST, SECOND],
                    )
            connection.close()


def test_migrate_schemas_uses_the_fast_executor_unless_told_otherwise(monkeypatch, settings):
    monkeypatch.delenv("EXECUTOR", raising=False)
    assert get_executor() is FastExecutor
    assert get_executor("standard") is StandardExecutor  # --executor standard
    settings.TENANT_MIGRATION_EXECUTOR = "standard"
    assert get_executor() is StandardExecutor
    monkeypatch.setenv("EXECUTOR", "fast")  # django-tenants' own variable wins over it
    assert get_executor() is FastExecutor


def test_nothing_pending_skips_every_tenant_schema_without_running_djangos_migrate(committed):
    migrated_in = []
    original = MigrationExecutor.migrate

    def counting(self, *args, **kwargs):
        migrated_in.append(self.connection.schema_name)
        return original(self, *args, **kwargs)

    out = io.StringIO()
    with mock.patch.object(MigrationExecutor, "migrate", counting):
        call_command("migrate_schemas", interactive=False, stdout=out, stderr=io.StringIO())

    # Public is migrated by Django's migrate, as django-tenants does; no tenant schema is.
    assert migrated_in == ["public"]
    tenants = len(_tenant_schemas())
    assert f"{tenants} up to date, 0 to migrate, 0 failed" in out.getvalue()


def test_a_new_migration_reaches_every_tenant_schema_spares_included(committed, schemas):
    organizations, spare = schemas
    committed()
    tenants = _tenant_schemas()
    assert {*organizations, spare, "org_acme", "org_globex"} <= set(tenants)

    with override_settings(TENANT_MIGRATION_PROCESSES=2):
        call_command(
            "migrate_schemas", interactive=False, stdout=io.StringIO(), stderr=io.StringIO()
        )

    migrated = {FIRST: (True, True), SECOND: (True, True)}
    assert {schema: _state(schema) for schema in tenants} == dict.fromkeys(tenants, migrated)
    # Public records tenant apps' migrations without running them (the router).
    assert _state("public") == {FIRST: (False, True), SECOND: (False, True)}


def test_a_migration_failing_in_one_schema_leaves_it_as_it_was_and_migrates_the_others(
    committed, schemas, capsys
):
    (failing, other), spare = schemas
    committed(failing=failing)

    argv = ["manage.py", "migrate_schemas", "--noinput"]
    with (
        override_settings(TENANT_MIGRATION_PROCESSES=2),
        pytest.raises(SystemExit) as exit_status,
    ):
        # As `manage.py migrate_schemas` runs it: a CommandError becomes exit status 1.
        ManagementUtility(argv).fetch_command("migrate_schemas").run_from_argv(argv)

    assert exit_status.value.code == 1
    # Both migrations ran in one transaction there: the first one's table is gone too.
    assert _state(failing) == {FIRST: (False, False), SECOND: (False, False)}
    for schema in (other, spare, "org_acme", "org_globex"):
        assert _state(schema) == {FIRST: (True, True), SECOND: (True, True)}
    errors = capsys.readouterr().err
    assert f"FAILED {failing}: {APP}.{SECOND}: " in errors
    assert "probe failure in" in errors
    assert f"CommandError: migrate_schemas failed in 1 schema(s): {failing}" in errors


def test_a_worker_killed_mid_schema_fails_the_run_without_hanging_or_half_migrating(
    committed, schemas
):
    (killed, _), _ = schemas
    committed(killed=killed)
    tenants = _tenant_schemas()

    with (
        override_settings(TENANT_MIGRATION_PROCESSES=2),
        pytest.raises(CommandError, match=f"failed in .* schema.s.: .*{killed}") as error,
    ):
        call_command(
            "migrate_schemas", interactive=False, stdout=io.StringIO(), stderr=io.StringIO()
        )

    # Its transaction died with its connection; schemas the pool had not reached are listed as
    # failed too (a rerun migrates them); every schema is either migrated or untouched.
    assert _state(killed) == {FIRST: (False, False), SECOND: (False, False)}
    untouched = {FIRST: (False, False), SECOND: (False, False)}
    migrated = {FIRST: (True, True), SECOND: (True, True)}
    states = {schema: _state(schema) for schema in tenants}
    assert all(state in (untouched, migrated) for state in states.values()), states
    failed = {schema for schema, state in states.items() if state == untouched}
    assert failed <= set(str(error.value).split(": ", 1)[1].split(", "))


def test_a_plan_that_cannot_run_in_one_transaction_is_applied_one_migration_at_a_time(
    committed, schemas
):
    committed(atomic=False)
    tenants = _tenant_schemas()

    # In this process (one worker), on this connection: its session locks can be checked.
    with override_settings(TENANT_MIGRATION_PROCESSES=1):
        call_command(
            "migrate_schemas", interactive=False, stdout=io.StringIO(), stderr=io.StringIO()
        )

    migrated = {FIRST: (True, True), SECOND: (True, True)}
    assert {schema: _state(schema) for schema in tenants} == dict.fromkeys(tenants, migrated)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_indexes WHERE indexname = %s", [f"{FIRST_TABLE}_id"]
        )
        assert cursor.fetchone()[0] == len(tenants)
        # The session-level migration locks were given back.
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [LOCK_CLASS],
        )
        assert cursor.fetchone()[0] == 0


def test_the_schema_option_migrates_that_schema_alone(committed, schemas):
    (chosen, other), spare = schemas
    committed()

    call_command("migrate_schemas", schema_name=chosen, interactive=False, stdout=io.StringIO())

    assert _state(chosen) == {FIRST: (True, True), SECOND: (True, True)}
    for schema in (other, spare, "public"):
        assert _state(schema) == {FIRST: (False, False), SECOND: (False, False)}


def test_shared_migrates_public_alone_and_tenant_every_other_schema(committed, schemas):
    (first, second), spare = schemas
    committed()

    call_command("migrate_schemas", shared=True, interactive=False, stdout=io.StringIO())
    assert _state("public") == {FIRST: (False, True), SECOND: (False, True)}
    assert _state(first) == {FIRST: (False, False), SECOND: (False, False)}

    call_command(
        "migrate_schemas",
        tenant=True,
        interactive=False,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    for schema in (first, second, spare):
        assert _state(schema) == {FIRST: (True, True), SECOND: (True, True)}


def test_check_exits_1_while_a_tenant_schema_has_migrations_to_apply(committed):
    call_command("migrate_schemas", check_unapplied=True, interactive=False, stdout=io.StringIO())
    committed()
    call_command("migrate_schemas", shared=True, interactive=False, stdout=io.StringIO())

    with pytest.raises(SystemExit) as exit_status:
        call_command("migrate_schemas", tenant=True, check_unapplied=True, stdout=io.StringIO())

    assert exit_status.value.code == 1
    assert _state("org_acme") == {FIRST: (False, False), SECOND: (False, False)}


def test_an_organization_without_its_schema_is_reported_and_the_run_goes_on(committed):
    ghost = Organization.objects.create(name="Ghost", slug="mig-ghost", schema_name="org_mig_ghost")
    try:
        committed()
        with pytest.raises(CommandError, match="failed in 1 schema.s.: org_mig_ghost"):
            call_command(
                "migrate_schemas",
                tenant=True,
                interactive=False,
                stdout=io.StringIO(),
                stderr=io.StringIO(),
            )
        assert _state("org_acme") == {FIRST: (True, True), SECOND: (True, True)}
    finally:
        Organization.objects.filter(pk=ghost.pk).delete()


def test_a_spare_the_pool_drops_during_the_run_is_skipped_not_failed(committed):
    doomed = spare_create()
    committed()
    real_run_jobs = executor_module.run_jobs

    def drop_then_run(run, jobs, *args, **kwargs):
        # After the catalogue was read: the pool drops the spare (or onboarding claims it).
        assert doomed in {schema for schema, _ in jobs}
        spare_drop(name=doomed)
        return real_run_jobs(run, jobs, *args, **kwargs)

    out = io.StringIO()
    with (
        mock.patch.object(executor_module, "run_jobs", drop_then_run),
        override_settings(TENANT_MIGRATION_PROCESSES=2),
    ):
        call_command("migrate_schemas", tenant=True, verbosity=2, stdout=out, stderr=io.StringIO())

    assert f"{doomed}: gone" in out.getvalue()
    assert _state("org_acme") == {FIRST: (True, True), SECOND: (True, True)}


def _tables_and_migrations(schema: str) -> tuple[list[str], list[tuple[str, str]]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", [schema])
        tables = [row[0] for row in cursor.fetchall()]
        cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations ORDER BY 1, 2')
        return tables, cursor.fetchall()


def test_an_empty_schema_is_migrated_from_scratch_like_any_organization(committed):
    empty = Organization.objects.create(name="Empty", slug="mig-empty", schema_name="org_mig_empty")
    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE SCHEMA org_mig_empty")

        call_command(
            "migrate_schemas",
            tenant=True,
            interactive=False,
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )

        assert _tables_and_migrations("org_mig_empty") == _tables_and_migrations("org_acme")
    finally:
        Organization.objects.filter(pk=empty.pk).delete()
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA IF EXISTS org_mig_empty CASCADE")
