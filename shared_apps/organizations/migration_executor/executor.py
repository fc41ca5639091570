"""`migrate_schemas --executor fast`: skip up-to-date schemas after one catalogue read, apply
pending migrations in a pool of processes, report failed schemas without stopping the others."""

import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from hashlib import md5
from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.core.management.base import CommandError, OutputWrapper
from django.core.management.color import color_style
from django.db import DatabaseError, connections
from django.db.migrations.exceptions import InconsistentMigrationHistory
from django.db.migrations.recorder import MigrationRecorder
from django.utils.module_loading import module_has_submodule
from django_tenants.migration_executors.base import MigrationExecutor, run_migrations
from django_tenants.migration_executors.standard import StandardExecutor
from django_tenants.signals import schema_migrated, schema_pre_migration
from tqdm import tqdm

from ..schema_pool import is_spare_schema_name, spare_schema_names
from .apply import NO_SCHEMA, Outcome, Run, flush_commits, run_jobs
from .catalogue import schema_states
from .plan import plan_group

# Options that ask for something other than "apply everything pending": Django's own
# migrate handles them, schema by schema (django-tenants' standard executor).
STANDARD_ONLY_OPTIONS = (
    "app_label",
    "migration_name",
    "fake",
    "fake_initial",
    "plan",
    "prune",
    "run_syncdb",
)
# The fingerprint of an empty django_migrations (catalogue.fingerprint_sql).
EMPTY_FINGERPRINT = md5(b"").hexdigest()


class FastExecutor(MigrationExecutor):
    """Public first, as django-tenants does; then every tenant schema (the spare schemas too)
    read in one catalogue pass, grouped by applied migrations, each group planned once.

    Up-to-date schemas are skipped without running Django's migrate; the others apply their
    group's plan in TENANT_MIGRATION_PROCESSES forked workers, each schema in a transaction of
    its own. Runs inside a transaction (TenantMixin.create_schema's) and the options in
    STANDARD_ONLY_OPTIONS go to the standard executor.
    """

    codename = "fast"

    def run_migrations(self, tenants=None):
        alias = self.options.get("database") or self.TENANT_DB_ALIAS
        connection = connections[alias]
        # The command calls this once for public alone, then once for the tenants (or the one
        # schema of --schema); only a run over all tenants takes the spares. Listed before the
        # organizations, so a spare claimed meanwhile shows up as an organization.
        spares = [] if self.options.get("schema_name") else spare_schema_names()
        schemas = list(tenants or [])
        if self.PUBLIC_SCHEMA_NAME in schemas:
            run_migrations(self.args, self.options, self.codename, self.PUBLIC_SCHEMA_NAME)
            schemas.remove(self.PUBLIC_SCHEMA_NAME)
            spares = []
        organizations, known = len(schemas), set(schemas)
        schemas += [name for name in spares if name not in known]
        if not schemas:
            return
        if connection.in_atomic_block or any(self.options.get(o) for o in STANDARD_ONLY_OPTIONS):
            StandardExecutor(self.args, self.options).run_migrations(tenants=schemas)
            return
        _TenantRun(self.options, connection, organizations=organizations).run(schemas)

    def run_multi_type_migrations(self, tenants):
        StandardExecutor(self.args, self.options).run_multi_type_migrations(tenants)


class _TenantRun:
    """One fast run over a list of tenant schemas, with its output."""

    def __init__(self, options, connection, *, organizations: int):
        self.connection = connection
        self.verbosity = int(options.get("verbosity", 1))
        self.interactive = options.get("interactive", False)
        self.check_only = options.get("check_unapplied", False)
        self.organizations = organizations
        self.stdout = OutputWrapper(options.get("stdout") or sys.stdout)
        self.stderr_stream = options.get("stderr") or sys.stderr
        self.stderr = OutputWrapper(self.stderr_stream)
        self.style = color_style()
        self.failures: dict[str, str] = {}
        self.migrated = 0

    def say(self, message: str, level: int = 1) -> None:
        if self.verbosity >= level:
            self.stdout.write(message)

    def run(self, schemas: list[str]) -> None:
        started = time.perf_counter()
        _import_management_modules()
        by_fingerprint = self.read_catalogue(schemas)
        groups, up_to_date = {}, []
        for fingerprint, names in by_fingerprint.items():
            try:
                group = plan_group(self.connection, names[0], fingerprint)
            except (InconsistentMigrationHistory, DatabaseError) as exc:
                self.failures.update(dict.fromkeys(names, f"{exc.__class__.__name__}: {exc}"))
                continue
            if group is None:
                up_to_date += names
            else:
                groups[fingerprint] = group
        jobs = [(name, fp) for fp in groups for name in by_fingerprint[fp]]
        spares = len(schemas) - self.organizations
        self.say(
            self.style.MIGRATE_HEADING("Tenant schemas: ")
            + f"{len(schemas):,} ({self.organizations:,} organizations, {spares:,} spare): "
            f"{len(up_to_date):,} up to date, {len(jobs):,} to migrate, "
            f"{len(self.failures):,} failed (read in {time.perf_counter() - started:.2f} s)"
        )
        for name in self.failures:
            self.report_failure(name, self.failures[name])
        if self.check_only:
            self.check(jobs)
            return
        for name in up_to_date:
            # django-tenants sends these for every schema; receivers (make run's report)
            # still hear of the skipped ones.
            schema_pre_migration.send(run_migrations, schema_name=name)
            schema_migrated.send(run_migrations, schema_name=name)
        if jobs:
            self.migrate(groups, jobs)
        self.finish(started)

    def read_catalogue(self, schemas: list[str]) -> dict[str, list[str]]:
        """Schemas grouped by the fingerprint of their django_migrations; missing or
        unreadable ones go to the failures."""
        states = schema_states(self.connection, schemas)
        by_fingerprint = defaultdict(list)
        for name in schemas:
            state = states[name]
            if not state.exists:
                if is_spare_schema_name(name):
                    continue  # claimed by onboarding, or dropped by the pool, meanwhile
                self.failures[name] = state.error or NO_SCHEMA
            elif not state.has_table:
                try:
                    _create_migrations_table(self.connection, name)
                except DatabaseError as exc:
                    self.failures[name] = f"{exc.__class__.__name__}: {exc}".strip()
                else:
                    by_fingerprint[EMPTY_FINGERPRINT].append(name)
            else:
                by_fingerprint[state.fingerprint].append(name)
        return by_fingerprint

    def check(self, jobs) -> None:
        """--check: exit 1 if any schema has migrations to apply, as Django's migrate does."""
        if self.failures:
            raise CommandError(self.failed_message())
        if jobs:
            self.say(f"{len(jobs):,} tenant schema(s) have unapplied migrations.")
            sys.exit(1)

    def migrate(self, groups, jobs) -> None:
        processes = max(1, int(getattr(settings, "TENANT_MIGRATION_PROCESSES", 4)))
        for group in groups.values():
            schemas = sum(1 for _, fp in jobs if fp == group.fingerprint)
            self.say(
                self.style.MIGRATE_HEADING("Applying ")
                + (", ".join(group.labels) or "(recording squashed migrations)")
                + f" to {schemas:,} schema(s)"
            )
        run = Run(self.connection.alias, self.verbosity, self.interactive)
        run.groups = groups
        progress = None
        for outcome in run_jobs(run, jobs, processes):
            if progress is None:
                # Made once the workers are forked: tqdm's monitor thread is not copied into them.
                progress = tqdm(
                    total=len(jobs),
                    desc="Migrating",
                    unit="schema",
                    file=self.stderr_stream,
                    disable=self.verbosity < 1,
                    mininterval=0.5,
                )
            progress.update()
            self.record(outcome, progress)
        progress.close()
        self.connection.set_schema_to_public()
        flush_commits(self.connection)

    def record(self, outcome: Outcome, progress: tqdm) -> None:
        if outcome.error:
            self.failures[outcome.schema] = outcome.error
            with _above(progress):
                self.report_failure(outcome.schema, outcome.error)
            return
        if outcome.gone:
            done = "gone (claimed or dropped by the schema pool meanwhile)"
        elif outcome.up_to_date:
            done = "already up to date (migrated by another run meanwhile)"
        else:
            self.migrated += 1
            done = ", ".join(outcome.applied)
        if self.verbosity >= 2:
            with _above(progress):
                self.stdout.write(f"  {outcome.schema}: {done} ({outcome.seconds:.2f} s)")

    def report_failure(self, schema: str, error: str) -> None:
        self.stderr.write(self.style.ERROR(f"FAILED {schema}: {error}"))

    def failed_message(self) -> str:
        names = sorted(self.failures)
        return f"migrate_schemas failed in {len(names):,} schema(s): {', '.join(names)}"

    def finish(self, started: float) -> None:
        elapsed = time.perf_counter() - started
        if self.failures:
            self.stderr.write(
                self.style.ERROR(
                    f"{len(self.failures):,} schema(s) failed (the others were migrated):"
                )
            )
            for name in sorted(self.failures):
                self.stderr.write(f"  {name}")
            raise CommandError(self.failed_message())
        self.say(
            self.style.SUCCESS(f"Tenant schemas done in {elapsed:.2f} s")
            + f" ({self.migrated:,} migrated)."
        )


@contextmanager
def _above(progress: tqdm):
    """Write a line above the progress bar (cleared, then drawn again below it)."""
    progress.clear()
    try:
        yield
    finally:
        progress.refresh()


def _import_management_modules() -> None:
    """What Django's migrate does first: import each app's `management` module, where some
    apps connect their pre/post_migrate receivers."""
    for app_config in apps.get_app_configs():
        if module_has_submodule(app_config.module, "management"):
            import_module(".management", app_config.name)


def _create_migrations_table(connection, schema: str) -> None:
    """Give a schema without one its own django_migrations table, as django-tenants does
    before migrating it: with public on the search path, the recorder would find public's."""
    connection.set_schema(schema, include_public=False)
    try:
        MigrationRecorder(connection).ensure_schema()
    finally:
        connection.set_schema_to_public()
