"""Onboarding: a new organization from the pool of spare schemas (a spare claimed by renaming
it) against today's path (CREATE SCHEMA and every migration, the fallback when the pool is
empty) and django-tenants' own creation (auto_create_schema, and its TENANT_BASE_SCHEMA clone),
with the project's migrations and with 30 more.

Usage: DJANGO_SETTINGS_MODULE=saas.settings python -m bench.run --only onboarding [--quick]

Everything runs in a database of its own, `<database>_bench_onboarding` (created once, emptied
of what each run makes), never the development database. Each migration set is measured by a
process of its own (`python -m bench.onboarding measure [--extra N] ...`, printing JSON): the
30 extra tenant migrations (tables with a foreign key to the users, fields, indexes) are
written with a copy of the projects app's migrations to a temporary folder (MIGRATION_MODULES),
never into the project, and the spares, organizations and recording built with them are dropped
afterwards. Times are per organization, commit included, through organization_create (row,
schema, domain, first ADMIN, its activity entry); the references create the row and the schema
only, which flatters them.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.databases import database_url

BASE_DIR = Path(__file__).resolve().parent.parent
SECTION = "onboarding"
EXTRA_MIGRATIONS = 30
# Organizations timed per path, by `quick`: through the pool / the slow paths.
CLAIMS = {False: 100, True: 10}
SLOW_RUNS = {False: 10, True: 2}
TARGET_P50_MS = 50
# Statements one onboarding from the pool sends (22 today, BEGIN and COMMIT included): the
# lock, the checks, row, claim (select, migrations check, rename, delete), domain, membership,
# its activity entry.
QUERY_PIN = 25
TARGET_P99_MS = 150
SLUG_PREFIX = "bo-"
ADMIN_EMAIL = "bo-admin@bench.example.com"
BASE_SCHEMA = "bench_onboarding_base"
EXTRA_APP = "projects"
EXTRA_PACKAGE = "bench_onboarding_migrations"


def run(report, *, quick: bool) -> None:
    from bench.core import Row, Timing

    database = _bench_database()
    figures = {}
    for extra in (0, EXTRA_MIGRATIONS):
        with tempfile.TemporaryDirectory(prefix="bench-onboarding-") as folder:
            args = ["measure", str(CLAIMS[quick]), str(SLOW_RUNS[quick])]
            if extra:
                args += ["--extra", str(extra), "--folder", folder]
            figures[extra] = _python(database, *args)

    for extra, measured in figures.items():
        label = f"+{extra} migrations" if extra else "project's migrations"
        claim = Timing(tuple(measured["claim_ms"]))
        tenants = Timing(tuple(measured["tenants_ms"]))
        clone = Timing(tuple(measured["clone_ms"]))
        fallback = Timing(tuple(measured["fallback_ms"]))
        refill = Timing(tuple(measured["refill_ms"]))
        details = {
            "tenant migrations": measured["migrations"],
            "organizations timed": len(claim.samples),
            "recorded statements": measured["statements"],
            "django-tenants auto_create_schema p50/p99 ms": _pair(tenants),
            "django-tenants clone (TENANT_BASE_SCHEMA) p50/p99 ms": _pair(clone),
            "fallback (empty pool) p50/p99 ms": _pair(fallback),
        }
        report.add(
            Row(
                SECTION,
                f"new organization from the pool, p50 ({label})",
                claim.p50,
                "ms",
                reference=tenants.p50,
                reference_name="django-tenants auto_create_schema",
                target=f"<= {TARGET_P50_MS} ms",
                passed=claim.p50 <= TARGET_P50_MS,
                details=details,
            )
        )
        report.add(
            Row(
                SECTION,
                f"new organization from the pool, p99 ({label})",
                claim.p99,
                "ms",
                reference=tenants.p99,
                reference_name="django-tenants auto_create_schema",
                target=f"<= {TARGET_P99_MS} ms",
                passed=claim.p99 <= TARGET_P99_MS,
            )
        )
        report.add(
            Row(
                SECTION,
                f"new organization, empty pool (fallback), p50 ({label})",
                fallback.p50,
                "ms",
                reference=clone.p50,
                reference_name="django-tenants clone_schema",
            )
        )
        report.add(
            Row(
                SECTION,
                f"pool refill, per spare (replay), p50 ({label})",
                refill.p50,
                "ms",
                reference=measured["refill_first_ms"],
                reference_name="first spare: migrated and recorded",
                details={"p99 ms": round(refill.p99, 1)},
            )
        )
        report.add(
            Row(
                SECTION,
                f"statements per onboarding from the pool ({label})",
                measured["claim_queries"],
                "queries",
                target=f"<= {QUERY_PIN}",
                passed=measured["claim_queries"] <= QUERY_PIN,
                deterministic=True,
            )
        )
        report.add(
            Row(
                SECTION,
                f"replayed spares that differ from the migrated one ({label})",
                measured["replay_mismatches"],
                "states",
                target="0 (same catalogue fingerprint)",
                passed=measured["replay_mismatches"] == 0,
                deterministic=True,
            )
        )
        missed = len(claim.samples) - measured["claimed"]
        report.add(
            Row(
                SECTION,
                f"organizations that migrated although the pool was warm ({label})",
                missed,
                "orgs",
                target="0",
                passed=missed == 0,
                deterministic=True,
            )
        )
    report.note(
        "onboarding: per organization through organization_create (row, schema, domain, "
        "ADMIN, activity entry, commit); the django-tenants references create row and schema "
        "only."
    )


def _pair(timing) -> list[float]:
    return [round(timing.p50, 1), round(timing.p99, 1)]


# --- The bench database, seen from the parent process -----------------------------------------


def _bench_database() -> str:
    """This benchmark's database, created (empty) if it does not exist."""
    from django.conf import settings
    from django.db import connection

    name = f"{settings.DATABASES['default']['NAME']}_bench_onboarding"
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    return name


def _python(database: str, *args: str) -> dict:
    """Run `python -m bench.onboarding ARGS` against `database`; its JSON figures."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(database),
        "DJANGO_SETTINGS_MODULE": "saas.settings",
        # No refill job is queued after each onboarding: the benchmark fills the pool itself.
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
    command = [sys.executable, "-m", "bench.onboarding", *args]
    done = subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- Inside the subprocess (against the bench database) ----------------------------------------

EXTRA_CREATE = '''"""Bench-only migration {number} (bench/onboarding.py); never part of the project."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("{app}", "{previous}"), migrations.swappable_dependency(settings.AUTH_USER_MODEL)]

    operations = [
        migrations.CreateModel(
            name="BenchDummy{number}",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=100)),
                ("value", models.IntegerField(default=0)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "owner",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={{"indexes": [models.Index(fields=["created_at"], name="bench_d{number}_created")]}},
        ),
    ]
'''

EXTRA_ALTER = '''"""Bench-only migration {number} (bench/onboarding.py); never part of the project."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("{app}", "{previous}")]

    operations = [
        migrations.AddField(
            model_name="benchdummy{model}",
            name="note",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.AddIndex(
            model_name="benchdummy{model}",
            index=models.Index(fields=["name", "value"], name="bench_d{number}_name"),
        ),
    ]
'''


def _extra_migrations(folder: Path, count: int) -> None:
    """A copy of EXTRA_APP's migrations plus `count` more, as package EXTRA_PACKAGE in
    `folder`, used instead of the app's own (MIGRATION_MODULES)."""
    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader

    source = Path(apps.get_app_config(EXTRA_APP).path) / "migrations"
    package = folder / EXTRA_PACKAGE
    package.mkdir()
    for path in source.glob("*.py"):
        shutil.copy(path, package / path.name)
    loader = MigrationLoader(None, ignore_no_migrations=True)
    (previous,) = (name for app, name in loader.graph.leaf_nodes() if app == EXTRA_APP)
    for number in range(1, count + 1):
        name = f"{9000 + number}_bench_dummy_{number}"
        template = EXTRA_CREATE if number % 2 else EXTRA_ALTER
        source_text = template.format(
            number=number, model=number - 1, app=EXTRA_APP, previous=previous
        )
        (package / f"{name}.py").write_text(source_text)
        previous = name


def _reset() -> None:
    """Drop what a run made: the bench organizations and their schemas, every spare, the
    recordings, the clone template."""
    from django.db import connection

    from shared_apps.organizations.models import Organization, SchemaRecording, SpareSchema
    from shared_apps.organizations.schema_pool import spare_schema_names

    connection.set_schema_to_public()
    organizations = Organization.objects.filter(slug__startswith=SLUG_PREFIX)
    schemas = list(organizations.values_list("schema_name", flat=True))
    schemas += spare_schema_names() + [BASE_SCHEMA]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s",
            ["org_" + SLUG_PREFIX.replace("-", "_") + "%"],
        )
        schemas += [row[0] for row in cursor.fetchall()]
        for schema in sorted(set(schemas)):
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    organizations.delete()  # domains and memberships cascade
    SpareSchema.objects.all().delete()
    SchemaRecording.objects.all().delete()


def _measure(claims: int, slow_runs: int) -> dict:
    from django.core.management import call_command
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext

    from bench.core import timed
    from shared_apps.accounts.models import User
    from shared_apps.accounts.services import user_create
    from shared_apps.organizations.models import Organization, SpareSchema
    from shared_apps.organizations.schema_pool import pool
    from shared_apps.organizations.schema_pool.state import migration_state
    from shared_apps.organizations.services import organization_create

    _reset()
    admin = User.objects.filter(email=ADMIN_EMAIL).first() or user_create(
        email=ADMIN_EMAIL, password=None
    )
    tag = f"{time.time_ns() % 10**8:08d}"
    counter = iter(range(10**6))

    def slug() -> str:
        return f"{SLUG_PREFIX}{tag}-{next(counter)}"

    # The pool: the first spare migrated while recorded, the others replayed.
    started = time.perf_counter()
    pool.spare_create()
    first_ms = (time.perf_counter() - started) * 1000
    refill = timed(pool.spare_create, runs=claims, warmup=0)

    claimed = {"n": 0}
    queries = CaptureQueriesContext(connection)

    def onboard_from_pool():
        before = SpareSchema.objects.count()
        with queries:
            started = time.perf_counter()
            organization_create(name="Bench onboarding", slug=slug(), admin=admin)
            elapsed = time.perf_counter() - started
        claimed["n"] += SpareSchema.objects.count() == before - 1
        return elapsed * 1000

    claim_ms = [onboard_from_pool() for _ in range(claims)]

    for name in list(SpareSchema.objects.values_list("name", flat=True)):
        pool.spare_drop(name=name)
    fallback = timed(
        lambda: organization_create(name="Bench fallback", slug=slug(), admin=admin),
        runs=slow_runs,
    )

    def django_tenants_create():
        organization = Organization(name="Bench reference", slug=slug())
        organization.schema_name = "org_" + organization.slug.replace("-", "_")
        organization.auto_create_schema = True
        organization.save(verbosity=0)

    with override_settings(TENANT_MIGRATION_EXECUTOR="standard"):
        tenants = timed(django_tenants_create, runs=slow_runs)
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{BASE_SCHEMA}"')
        call_command(
            "migrate_schemas",
            tenant=True,
            schema_name=BASE_SCHEMA,
            executor="standard",
            interactive=False,
            verbosity=0,
        )
        with override_settings(
            TENANT_BASE_SCHEMA=BASE_SCHEMA, TENANT_CREATION_FAKES_MIGRATIONS=True
        ):
            clone = timed(django_tenants_create, runs=slow_runs)

    recording = pool._recordings.get(migration_state().key)
    figures = {
        "migrations": len(migration_state().migrations),
        "statements": len(recording.statements) if recording else 0,
        "refill_first_ms": first_ms,
        "refill_ms": list(refill.samples),
        "claim_ms": claim_ms,
        "claimed": claimed["n"],
        "claim_queries": len(queries.captured_queries),
        # A replay whose fingerprint differed from the migrated spare's (never pooled).
        "replay_mismatches": len(pool._unreplayable),
        "fallback_ms": list(fallback.samples),
        "tenants_ms": list(tenants.samples),
        "clone_ms": list(clone.samples),
    }
    _reset()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="action", required=True)
    measure = sub.add_parser("measure")
    measure.add_argument("claims", type=int)
    measure.add_argument("slow_runs", type=int)
    measure.add_argument("--extra", type=int, default=0)
    measure.add_argument("--folder")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import override_settings

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    if args.extra:
        _extra_migrations(Path(args.folder), args.extra)
        sys.path.insert(0, args.folder)
        with override_settings(MIGRATION_MODULES={EXTRA_APP: EXTRA_PACKAGE}):
            figures = _measure(args.claims, args.slow_runs)
    else:
        figures = _measure(args.claims, args.slow_runs)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
