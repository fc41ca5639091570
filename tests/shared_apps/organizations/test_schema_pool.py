"""The pool of spare schemas: refilled by replaying one recorded migration, claimed by
onboarding in its own transaction, stale spares never claimed, the slow path when empty."""

import shutil
import sys
import uuid
from contextlib import ExitStack
from io import StringIO
from pathlib import Path
from unittest import mock

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection
from django.test import override_settings
from django_tenants.utils import schema_exists, tenant_context
from kombu.exceptions import OperationalError

from saas.celery import app as celery_app
from shared_apps.organizations import jobs
from shared_apps.organizations.models import (
    Domain,
    Membership,
    Organization,
    SchemaRecording,
    SpareSchema,
)
from shared_apps.organizations.schema_pool import (
    is_spare_schema_name,
    pool,
    recording,
    spare_schema_names,
)
from shared_apps.organizations.schema_pool.pool import pool_refill, spare_claim, spare_create
from shared_apps.organizations.schema_pool.recording import NotReplayable, Recorder
from shared_apps.organizations.schema_pool.state import (
    forget_migration_state,
    is_current,
    migration_state,
    recorded_migrations,
)
from shared_apps.organizations.services import onboarding as services
from shared_apps.organizations.services import organization_create
from tenant_apps.projects.models import Project
from tests.factories import client_for, make_project, make_user

pytestmark = pytest.mark.django_db


def _make_stale(name: str) -> None:
    """Make spare `name` look like it was built before the newest migration."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'DELETE FROM "{name}".django_migrations WHERE app = %s AND name = %s',
            ["tasks", "0004_dashboard_indexes"],
        )


# --- Refill -------------------------------------------------------------------------------


def test_a_refill_builds_current_spares_up_to_the_size_and_no_more():
    refill = pool_refill(size=3)

    assert refill.ran and len(refill.created) == 3 and refill.dropped == []
    assert sorted(refill.created) == spare_schema_names()
    assert set(SpareSchema.objects.values_list("name", flat=True)) == set(refill.created)
    for name in refill.created:
        assert is_spare_schema_name(name)
        assert recorded_migrations(name) == migration_state().migrations
    assert pool_refill(size=3).created == []


def test_spares_are_built_by_replaying_one_recorded_migration(monkeypatch):
    pool._recordings.clear()
    migrated = mock.Mock(wraps=recording.migrate_and_record)
    monkeypatch.setattr(pool, "migrate_and_record", migrated)

    pool_refill(size=3)

    assert migrated.call_count == 1  # the first spare; the others replay its statements
    stored = SchemaRecording.objects.get(migration_key=migration_state().key)
    assert set(stored.migrations) == migration_state().migrations
    assert any('CREATE TABLE "tasks_task"' in statement for statement in stored.statements)
    assert not any(statement.lstrip().startswith("SELECT") for statement in stored.statements)


def test_another_process_replays_the_stored_recording_without_migrating(monkeypatch):
    pool._recordings.clear()
    pool_refill(size=1)  # migrates the first spare, storing what it executed
    pool._recordings.clear()  # a fresh process knows nothing yet
    monkeypatch.setattr(pool, "migrate_and_record", mock.Mock(side_effect=AssertionError))

    name = spare_create()

    assert is_current(name)


def test_a_replay_that_fails_falls_back_to_migrating_and_records_afresh(monkeypatch):
    pool_refill(size=1)
    monkeypatch.setattr(pool, "replay", mock.Mock(side_effect=DatabaseError("boom")))

    name = spare_create()

    assert is_current(name)
    assert SchemaRecording.objects.filter(migration_key=migration_state().key).count() == 1


def test_a_replay_that_differs_from_the_migrated_schema_is_never_pooled(monkeypatch):
    monkeypatch.setattr(pool, "_unreplayable", set())
    pool._recordings.clear()
    pool_refill(size=1)  # migrated and recorded
    real_replay = recording.replay

    def replay_missing_an_index(name, statements):
        kept = [s for s in statements if 'CREATE INDEX "tasks_due_date"' not in s]
        assert len(kept) == len(statements) - 1
        real_replay(name, kept)

    monkeypatch.setattr(pool, "replay", replay_missing_an_index)
    migrated = mock.Mock(wraps=recording.migrate_and_record)
    monkeypatch.setattr(pool, "migrate_and_record", migrated)

    first, second = spare_create(), spare_create()

    for name in (first, second):
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)", [f'"{name}"."tasks_due_date"'])
            assert cursor.fetchone()[0] is not None
    assert migrated.call_count == 2  # this state is no longer replayed in this process
    assert len(spare_schema_names()) == 3


def test_a_refill_drops_stale_spares_and_orphans_and_builds_current_ones():
    stale, current = pool_refill(size=2).created
    _make_stale(stale)
    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "spare_0123456789ab"')  # a schema without its pool row
    orphan_row = SpareSchema.objects.create(name="spare_ba9876543210")  # a row without schema

    refill = pool_refill(size=2)

    assert sorted(refill.dropped) == sorted([stale, "spare_0123456789ab", orphan_row.name])
    assert len(refill.created) == 1
    assert sorted(spare_schema_names()) == sorted([current, *refill.created])
    assert not schema_exists(stale)


def test_a_smaller_size_drops_the_newest_spares():
    spares = pool_refill(size=3).created

    refill = pool_refill(size=1)

    assert sorted(refill.dropped) == sorted(spares[1:]) and refill.created == []
    assert spare_schema_names() == [spares[0]]
    assert pool_refill(size=0).dropped == [spares[0]]
    assert spare_schema_names() == [] and not SpareSchema.objects.exists()


def test_only_one_refill_runs_at_a_time():
    other = connection.copy()  # another process's refill, holding the lock
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [pool._REFILL_LOCK])

        assert pool_refill(size=1) == pool.Refill(False, [], [], mock.ANY)
        assert spare_schema_names() == []

        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [pool._REFILL_LOCK])
    finally:
        other.close()
    assert pool_refill(size=1).ran


NEW_MIGRATION = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("exports", "{leaf}")]
    operations = [
        migrations.CreateModel(
            name="PoolProbe",
            fields=[("id", models.BigAutoField(primary_key=True, serialize=False))],
        ),
    ]
"""


@pytest.fixture
def add_migration(tmp_path):
    """Call it to put a new tenant migration on disk, as a deploy would (the exports app's
    migrations copied to a temporary package, plus one)."""
    package = f"pool_probe_{uuid.uuid4().hex[:8]}"
    with ExitStack() as stack:

        def add() -> str:
            source = Path(apps.get_app_config("exports").path) / "migrations"
            shutil.copytree(source, tmp_path / package)
            leaf = max(path.stem for path in source.glob("0*.py"))
            (tmp_path / package / "0099_pool_probe.py").write_text(NEW_MIGRATION.format(leaf=leaf))
            sys.path.insert(0, str(tmp_path))
            stack.callback(sys.path.remove, str(tmp_path))
            stack.enter_context(override_settings(MIGRATION_MODULES={"exports": package}))
            forget_migration_state()
            return "exports.0099_pool_probe"

        yield add
    forget_migration_state()


def test_a_deploy_with_a_new_migration_makes_old_spares_stale_and_the_refill_rebuilds_them(
    add_migration,
):
    old = pool_refill(size=2).created

    new = add_migration()

    assert new in migration_state().migrations
    assert spare_claim(schema_name="org_after_deploy") is None  # none is current
    refill = pool_refill(size=2)
    assert sorted(refill.dropped) == sorted(old)
    assert len(refill.created) == 2 and spare_schema_names() == sorted(refill.created)
    for name in refill.created:
        assert is_current(name)
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)", [f'"{name}".exports_poolprobe'])
            assert cursor.fetchone()[0] is not None
    assert spare_claim(schema_name="org_after_deploy") == refill.created[0]


# --- Claim --------------------------------------------------------------------------------


def test_onboarding_claims_a_spare_and_the_organization_works():
    spares = pool_refill(size=2).created
    admin = make_user()

    organization = organization_create(name="Pooled", slug="pooled", admin=admin)

    assert organization.schema_name == "org_pooled"
    assert spare_schema_names() == [spares[1]]  # the oldest spare, renamed
    assert not schema_exists(spares[0])
    assert not SpareSchema.objects.filter(name=spares[0]).exists()
    assert is_current("org_pooled")
    assert Domain.objects.get(tenant=organization).domain == "pooled.localhost"
    assert Membership.objects.get(organization=organization).user == admin
    project = make_project(organization, created_by=admin)
    with tenant_context(organization):
        assert list(Project.objects.values_list("pk", flat=True)) == [project.pk]


def test_the_api_onboards_from_the_pool():
    pool_refill(size=1)
    founder = make_user()

    response = client_for(founder).post("/api/orgs/", {"name": "Api Pool", "slug": "api-pool"})

    assert response.status_code == 201, response.content
    assert spare_schema_names() == []
    assert is_current("org_api_pool")


def test_the_slow_path_migrates_the_schema_when_the_pool_is_empty():
    assert spare_schema_names() == []

    organization_create(name="No Pool", slug="no-pool", admin=make_user())

    assert is_current("org_no_pool")


def test_a_stale_spare_is_never_claimed(caplog):
    (stale,) = pool_refill(size=1).created
    _make_stale(stale)

    organization_create(name="Stale", slug="stale-pool", admin=make_user())

    assert spare_schema_names() == [stale]  # still there, for the refill to drop
    assert is_current("org_stale_pool")  # migrated the slow way
    assert f"Spare schema {stale} is not at the current migration state" in caplog.text


def test_a_pool_row_without_its_schema_is_skipped_and_the_claim_goes_on():
    SpareSchema.objects.create(name="spare_00000000dead")  # the oldest row
    real = spare_create()

    assert spare_claim(schema_name="org_claimed_here") == real
    assert is_current("org_claimed_here")


FAILURES = {
    "domain": lambda monkeypatch: monkeypatch.setattr(
        services.Domain.objects, "create", mock.Mock(side_effect=RuntimeError("simulated crash"))
    ),
    "membership": lambda monkeypatch: monkeypatch.setattr(
        services.Membership.objects,
        "create",
        mock.Mock(side_effect=RuntimeError("simulated crash")),
    ),
}


@pytest.mark.parametrize("failing_step", FAILURES)
def test_a_failed_onboarding_puts_the_claimed_spare_back_and_creates_nothing(
    monkeypatch, failing_step
):
    spares = pool_refill(size=2).created
    FAILURES[failing_step](monkeypatch)

    with pytest.raises(RuntimeError, match="simulated crash"):
        organization_create(name="Doomed", slug="doomed-pool", admin=make_user())

    assert spare_schema_names() == sorted(spares)
    assert set(SpareSchema.objects.values_list("name", flat=True)) == set(spares)
    assert all(is_current(name) for name in spares)
    assert not schema_exists("org_doomed_pool")
    assert not Organization.objects.filter(slug="doomed-pool").exists()


# --- Recorder -----------------------------------------------------------------------------


def _recorded(schema_name: str, *statements: tuple[str, object]) -> Recorder:
    recorder = Recorder(schema_name)
    context = {"connection": connection}
    for sql, params in statements:
        recorder(lambda *args: None, sql, params, False, context)
    return recorder


def test_the_recorder_keeps_changes_with_parameters_inlined_and_drops_reads_and_savepoints():
    recorder = _recorded(
        "spare_aaaaaaaaaaaa",
        ('SAVEPOINT "s1"', None),
        ('CREATE TABLE "t" ("id" bigint)', None),
        ('INSERT INTO "t" ("id", "label") VALUES (%s, %s)', (1, "it's 100%")),
        ("SELECT id FROM t WHERE id = %s", (1,)),
        ("SHOW search_path", None),
        ('SET search_path = "spare_aaaaaaaaaaaa","public"', None),
        ("SET LOCAL search_path TO spare_aaaaaaaaaaaa", None),
        ("SELECT setval('t_id_seq', 5)", None),
        ('RELEASE SAVEPOINT "s1"', None),
    )

    assert recorder.problem is None
    assert recorder.statements == [
        'CREATE TABLE "t" ("id" bigint)',
        """INSERT INTO "t" ("id", "label") VALUES (1, 'it''s 100%')""",
        "SELECT setval('t_id_seq', 5)",
    ]


@pytest.mark.parametrize(
    "statement",
    [
        'CREATE TABLE "spare_aaaaaaaaaaaa"."t" ("id" bigint)',
        "SET search_path = other_schema",
        'ROLLBACK TO SAVEPOINT "s1"',
    ],
)
def test_the_recorder_refuses_what_a_replay_could_not_reproduce(statement):
    recorder = _recorded("spare_aaaaaaaaaaaa", (statement, None))

    assert recorder.problem is not None


def test_migrations_that_cannot_be_replayed_still_build_spares_the_slow_way(monkeypatch):
    monkeypatch.setattr(pool, "_unreplayable", set())
    pool._recordings.clear()
    SchemaRecording.objects.all().delete()

    def migrate_unreplayable(name):
        recording.migrate_and_record(name)
        raise NotReplayable("named the schema it migrated")

    monkeypatch.setattr(pool, "migrate_and_record", migrate_unreplayable)

    created = pool_refill(size=2).created

    assert len(created) == 2 and all(is_current(name) for name in created)
    assert not SchemaRecording.objects.exists()


# --- Command, job, nudge ------------------------------------------------------------------


def test_the_refill_command_builds_spares_and_reports_the_time_per_spare():
    out = StringIO()

    call_command("refill_schema_pool", "--size", "2", stdout=out)

    assert len(spare_schema_names()) == 2
    assert "Built 2 spare schemas in" in out.getvalue()
    assert "ms per spare" in out.getvalue()

    call_command("refill_schema_pool", "--size", "0", stdout=out)

    assert spare_schema_names() == []
    assert "Dropped spare spare_" in out.getvalue()


def test_the_refill_command_refuses_a_negative_size():
    with pytest.raises(CommandError, match="--size must be 0 or more"):
        call_command("refill_schema_pool", "--size", "-1", stdout=StringIO())


def test_the_refill_job_builds_spares():
    assert jobs.schema_pool_refill.run(size=1) == 1
    assert len(spare_schema_names()) == 1


def test_beat_refills_the_pool(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["schema-pool-refill"]
    assert entry["task"] == "shared_apps.organizations.jobs.schema_pool_refill"
    assert entry["task"] in celery_app.tasks
    assert jobs.schema_pool_refill.name == entry["task"]


@pytest.fixture
def queued_jobs(monkeypatch):
    """Refill jobs queued (not run), through a broker that is not eager."""
    apply_async = mock.Mock()
    monkeypatch.setattr(jobs.schema_pool_refill, "apply_async", apply_async)
    saved = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield apply_async
    celery_app.conf.task_always_eager = saved


@override_settings(SCHEMA_POOL_SIZE=2)
def test_each_onboarding_queues_a_refill_in_public_once_it_commits(
    queued_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        organization_create(name="Nudge", slug="nudge", admin=make_user())
    assert not queued_jobs.called

    for callback in callbacks:
        callback()

    queued_jobs.assert_called_once_with(headers={"_schema_name": "public"})


@override_settings(SCHEMA_POOL_SIZE=2)
def test_a_broker_that_cannot_take_the_refill_never_fails_the_onboarding(
    queued_jobs, django_capture_on_commit_callbacks, caplog
):
    queued_jobs.side_effect = OperationalError("broker down")

    with django_capture_on_commit_callbacks(execute=True):
        organization = organization_create(name="Nudge", slug="nudge", admin=make_user())

    assert Organization.objects.filter(pk=organization.pk).exists()
    assert "Could not queue a schema pool refill" in caplog.text


@override_settings(SCHEMA_POOL_SIZE=0)
def test_no_refill_is_queued_without_a_pool(queued_jobs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        organization_create(name="Nudge", slug="nudge", admin=make_user())

    assert not queued_jobs.called


@pytest.mark.parametrize("pool_size", [1, 0], ids=["claimed spare", "migrated (empty pool)"])
def test_a_new_organizations_tables_start_analyzed_empty(pool_size):
    # Never analyzed, a small table is planned as ten pages of rows for good (autovacuum
    # waits for 50 changes), and its joins with the users table read every user.
    pool_refill(size=pool_size)
    organization = organization_create(name="Analyzed", slug="analyzed", admin=make_user())

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples FROM pg_class WHERE relnamespace = to_regnamespace(%s)"
            " AND relkind = 'r'",
            [organization.schema_name],
        )
        tuples = dict(cursor.fetchall())
    assert {"tasks_task", "activity_activity", "projects_project"} <= set(tuples)
    assert all(count >= 0 for count in tuples.values()), tuples  # -1: never analyzed
    assert tuples["tasks_task"] == 0 and tuples["activity_changecounter"] == 1
