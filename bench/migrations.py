"""migrate_schemas across many organizations: this project's `fast` executor against
django-tenants' `standard` one, with nothing pending and applying one new migration.

Usage: DJANGO_SETTINGS_MODULE=saas.settings python -m bench.run --only migrations [--quick]

A database of its own, `<database>_bench_migrations_<N>_<digest of the migrations>`, holds N
organizations (slugs bm-0001...: 1,000, or 20 with --quick) onboarded from the schema pool,
plus the pool's spares; it is built once and reused while the migrations stay the same, and
the development database is never touched. Every migrate_schemas runs as a process of its
own against it, and its wall time (Python start-up included) is what the table shows. The new
migration is a CreateModel in the tasks app, written with a copy of the app's migrations to a
temporary folder (MIGRATION_MODULES), never into the project; it is removed from every schema
after each run.

The reference runs django-tenants' standard executor on the first SUBSET organizations of
the same database and is scaled to all of its schemas (each schema costs it about the same,
though more in a larger database: Django's introspection scans the whole pg_class for every
schema); the command's fixed costs (start-up, public) are left out of it, which only flatters
the reference.

`python -m bench.migrations setup|migrate|standard ...` are the subprocesses' entry points.
"""

import argparse
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.databases import connect, database_url

BASE_DIR = Path(__file__).resolve().parent.parent
# By `quick`: CI builds the quick database afresh each time (about half a second each).
ORGANIZATIONS = {False: 1000, True: 20}
# Schemas the standard executor is timed on, by `quick` (its cost per schema is flat).
SUBSET = {False: 100, True: 10}
RUNS = 3
TARGET_NOOP_S = 5.0
TARGET_APPLY_S = 20.0
SLUG_PREFIX = "bm-"
ADMIN_EMAIL = "bm-admin@bench.example.com"
PROBE_APP = "tasks"
PROBE_NAME = "9999_bench_probe"
PROBE_TABLE = "tasks_benchprobe"
PROBE_PACKAGE = "bench_probe_migrations"
SECTION = "migrations"
# Spares onboarding's pool keeps, migrated by migrate_schemas like the organizations.
SPARES = 10

PROBE_SOURCE = '''"""The benchmark's new migration (bench/migrations.py); never part of the project."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("{app}", "{leaf}")]

    operations = [
        migrations.CreateModel(
            name="BenchProbe",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("note", models.CharField(blank=True, max_length=100)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
        ),
    ]
'''


def run(report, *, quick: bool) -> None:
    from bench.core import Row

    organizations = ORGANIZATIONS[quick]
    database = bench_database(organizations)
    seconds, output = _python(database, "setup", str(organizations), str(SPARES))
    print(f"  {output.strip().splitlines()[-1]} ({seconds:.0f} s)", flush=True)
    schemas = _tenant_schema_count(database)
    subset = min(SUBSET[quick], organizations)
    scale = schemas / subset
    _probe_remove(database)

    # Nothing pending.
    noop = [_python(database, "migrate") for _ in range(RUNS)]
    noop_s = statistics.median(seconds for seconds, _ in noop)
    standard_noop = _median_subset(database, subset, probe=None)
    migrated_when_up_to_date = max(_to_migrate(output) for _, output in noop)
    details = {
        "organizations": organizations,
        "tenant schemas (spares included)": schemas,
        "runs": [round(seconds, 2) for seconds, _ in noop],
        "reference": f"standard executor timed on {subset} schemas (median of {RUNS}), "
        f"scaled x{scale:.1f}; without the command's start-up and public",
        "fast executor's own summary": _summary(noop[-1][1]),
    }
    report.add(
        Row(
            SECTION,
            f"migrate_schemas, nothing pending, {organizations:,} organizations",
            noop_s,
            "s",
            reference=standard_noop * scale,
            reference_name="django-tenants standard",
            target=f"<= {TARGET_NOOP_S:.0f} s at 1,000",
            passed=noop_s <= TARGET_NOOP_S,
            details=details,
        )
    )
    report.add(
        Row(
            SECTION,
            "nothing pending: tenant schemas migrated anyway",
            migrated_when_up_to_date,
            "schemas",
            target="0 (every schema skipped after the catalogue read)",
            passed=migrated_when_up_to_date == 0,
            deterministic=True,
            details={"outputs": [_summary(output) for _, output in noop]},
        )
    )

    # One new migration.
    with tempfile.TemporaryDirectory(prefix="bench-migrations-") as folder:
        probe = _probe_write(Path(folder))
        apply_runs, left_behind = [], 0
        for _ in range(RUNS):
            _probe_remove(database)
            apply_runs.append(_python(database, "migrate", "--probe", probe))
            left_behind = max(left_behind, schemas - _probe_count(database))
        _probe_remove(database)
        standard_apply = _median_subset(database, subset, probe=probe)
        _probe_remove(database)
    apply_s = statistics.median(seconds for seconds, _ in apply_runs)
    report.add(
        Row(
            SECTION,
            f"migrate_schemas, one new migration, {organizations:,} organizations",
            apply_s,
            "s",
            reference=standard_apply * scale,
            reference_name="django-tenants standard",
            target=f"<= {TARGET_APPLY_S:.0f} s at 1,000",
            passed=apply_s <= TARGET_APPLY_S,
            details={
                **details,
                "runs": [round(seconds, 2) for seconds, _ in apply_runs],
                "fast executor's own summary": _summary(apply_runs[-1][1]),
            },
        )
    )
    report.add(
        Row(
            SECTION,
            "one new migration: tenant schemas left without it",
            left_behind,
            "schemas",
            target=f"0 (all {schemas:,} tenant schemas, spares included, migrated)",
            passed=left_behind == 0,
            deterministic=True,
        )
    )


def _median_subset(database: str, subset: int, *, probe: str | None) -> float:
    """Median seconds of the standard executor over `subset` schemas (its own timing)."""
    samples = []
    for _ in range(RUNS):
        if probe is not None:
            _probe_remove(database)
        args = ["standard", str(subset)] + (["--probe", probe] if probe else [])
        samples.append(float(_python(database, *args)[1].strip().splitlines()[-1]))
    return statistics.median(samples)


def _to_migrate(output: str) -> int:
    """How many tenant schemas the fast executor found behind (its summary line)."""
    found = re.search(r"up to date, ([\d,]+) to migrate", output)
    if found is None:
        raise RuntimeError(f"no summary line in migrate_schemas' output:\n{output[-2000:]}")
    return int(found[1].replace(",", ""))


def _summary(output: str) -> str:
    return " / ".join(
        line.strip() for line in output.splitlines() if line.startswith(("Tenant schemas", "Apply"))
    )


# --- The bench database, seen from the parent process -----------------------------------------


def bench_database(organizations: int) -> str:
    """The name of this size's database for the migrations on disk, created (empty) if it does
    not exist. The name carries a digest of every migration file: a database migrated by
    other migrations (added, edited, renumbered) is never reused, and is dropped."""
    from django.conf import settings
    from django.db import connection

    prefix = f"{settings.DATABASES['default']['NAME']}_bench_migrations_{organizations}_"
    name = prefix + _migrations_digest()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s) AND datname <> %s",
            [prefix, name],
        )
        for (old,) in cursor.fetchall():
            cursor.execute(f'DROP DATABASE "{old}" WITH (FORCE)')
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    return name


def _migrations_digest() -> str:
    from django.db.migrations.loader import MigrationLoader

    digest = hashlib.sha256()
    loader = MigrationLoader(None, ignore_no_migrations=True)
    for key, migration in sorted(loader.disk_migrations.items()):
        digest.update(repr(key).encode())
        digest.update(Path(sys.modules[type(migration).__module__].__file__).read_bytes())
    return digest.hexdigest()[:10]


def _python(database: str, *args: str) -> tuple[float, str]:
    """Run `python -m bench.migrations ARGS` against `database`; (wall seconds, stdout)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(database),
        "DJANGO_SETTINGS_MODULE": "saas.settings",
        # Onboarding never queues pool refills to a broker other processes read from.
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
    command = [sys.executable, "-m", "bench.migrations", *args]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def _tenant_schemas(cursor) -> list[str]:
    cursor.execute(
        "SELECT n.nspname FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid"
        " WHERE c.relname = 'django_migrations' AND n.nspname <> 'public' ORDER BY 1"
    )
    return [row[0] for row in cursor.fetchall()]


def _tenant_schema_count(database: str) -> int:
    with connect(database, autocommit=True) as connection, connection.cursor() as cursor:
        return len(_tenant_schemas(cursor))


def _probe_count(database: str) -> int:
    """Tenant schemas holding the new migration's table and its django_migrations row."""
    with connect(database, autocommit=True) as connection, connection.cursor() as cursor:
        count = 0
        for schema in _tenant_schemas(cursor):
            cursor.execute(
                f'SELECT to_regclass(%s) IS NOT NULL, EXISTS (SELECT 1 FROM "{schema}".'
                "django_migrations WHERE app = %s AND name = %s)",
                [f'"{schema}".{PROBE_TABLE}', PROBE_APP, PROBE_NAME],
            )
            count += all(cursor.fetchone())
        return count


def _probe_remove(database: str) -> None:
    """Undo the new migration everywhere (public records it too), a hundred schemas per
    transaction (each statement locks its table until the commit)."""
    connection = connect(database, autocommit=True)
    try:
        with connection.cursor() as cursor:
            schemas = ["public", *_tenant_schemas(cursor)]
        for start in range(0, len(schemas), 100):
            script = "".join(
                f'DROP TABLE IF EXISTS "{schema}".{PROBE_TABLE};'
                f'DELETE FROM "{schema}".django_migrations'
                f" WHERE app = '{PROBE_APP}' AND name = '{PROBE_NAME}';"
                for schema in schemas[start : start + 100]
            )
            with connection.cursor() as cursor:
                cursor.execute(f"BEGIN;{script}COMMIT;")
    finally:
        connection.close()


def _probe_write(folder: Path) -> str:
    """A copy of the tasks app's migrations plus the new one, as package PROBE_PACKAGE in
    `folder`; returns the folder (what --probe takes)."""
    from django.apps import apps
    from django.db.migrations.loader import MigrationLoader

    source = Path(apps.get_app_config(PROBE_APP).path) / "migrations"
    package = folder / PROBE_PACKAGE
    package.mkdir()
    for path in source.glob("*.py"):
        shutil.copy(path, package / path.name)
    loader = MigrationLoader(None, ignore_no_migrations=True)
    (leaf,) = (name for app, name in loader.graph.leaf_nodes() if app == PROBE_APP)
    (package / f"{PROBE_NAME}.py").write_text(PROBE_SOURCE.format(app=PROBE_APP, leaf=leaf))
    return str(folder)


# --- Inside the subprocesses (against the bench database) --------------------------------------


def _with_probe(folder: str | None):
    from django.test import override_settings

    if folder is None:
        return override_settings()
    sys.path.insert(0, folder)
    return override_settings(MIGRATION_MODULES={PROBE_APP: PROBE_PACKAGE})


def _setup(organizations: int, spares: int) -> None:
    """Migrate, then onboard the missing bm- organizations through the schema pool (a batch
    of spares built by replaying a recorded migration, then claimed one by one)."""
    from django.core.management import call_command

    from shared_apps.accounts.models import User
    from shared_apps.accounts.services import user_create
    from shared_apps.organizations.models import Organization
    from shared_apps.organizations.schema_pool.pool import pool_refill
    from shared_apps.organizations.services import organization_create

    started = time.perf_counter()
    call_command("migrate_schemas", interactive=False, verbosity=0)
    admin = User.objects.filter(email=ADMIN_EMAIL).first() or user_create(
        email=ADMIN_EMAIL, password=None
    )
    have = set(
        Organization.objects.filter(slug__startswith=SLUG_PREFIX).values_list("slug", flat=True)
    )
    missing = [
        slug
        for slug in (f"{SLUG_PREFIX}{number:04d}" for number in range(1, organizations + 1))
        if slug not in have
    ]
    for start in range(0, len(missing), 100):
        batch = missing[start : start + 100]
        pool_refill(size=len(batch))
        for slug in batch:
            organization_create(name=f"Bench migrations {slug}", slug=slug, admin=admin)
    pool_refill(size=spares)
    print(
        f"bench database: {organizations:,} organizations ({len(missing):,} created), "
        f"{spares} spares, ready in {time.perf_counter() - started:.1f} s"
    )


def _migrate(probe: str | None, executor: str | None) -> None:
    from django.core.management import call_command

    with _with_probe(probe):
        call_command("migrate_schemas", interactive=False, verbosity=1, executor=executor)


def _standard(subset: int, probe: str | None) -> None:
    """django-tenants' standard executor over the first `subset` organizations' schemas, as
    migrate_schemas runs it; prints its seconds."""
    from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand
    from django_tenants.migration_executors.standard import StandardExecutor

    from shared_apps.organizations.models import Organization

    command = MigrateSchemasCommand()
    parser = command.create_parser("manage.py", "migrate_schemas")
    options = vars(parser.parse_args(["--noinput", "--tenant", "--verbosity", "0"]))
    schemas = list(
        Organization.objects.filter(slug__startswith=SLUG_PREFIX)
        .order_by("slug")
        .values_list("schema_name", flat=True)[:subset]
    )
    with _with_probe(probe):
        started = time.perf_counter()
        StandardExecutor((), options).run_migrations(tenants=schemas)
        print(f"{time.perf_counter() - started:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="action", required=True)
    setup = sub.add_parser("setup")
    setup.add_argument("organizations", type=int)
    setup.add_argument("spares", type=int)
    migrate = sub.add_parser("migrate")
    migrate.add_argument("--probe")
    migrate.add_argument("--executor")
    standard = sub.add_parser("standard")
    standard.add_argument("subset", type=int)
    standard.add_argument("--probe")
    args = parser.parse_args()

    import django

    django.setup()
    if args.action == "setup":
        _setup(args.organizations, args.spares)
    elif args.action == "migrate":
        _migrate(args.probe, args.executor)
    else:
        _standard(args.subset, args.probe)


if __name__ == "__main__":
    main()
