"""Applying a group's plan to each of its schemas, each in a transaction of its own, in a pool
of forked processes."""

import multiprocessing
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.util import Finalize

from django.apps import apps as global_apps
from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal
from django.db import connections, transaction
from django.db.migrations.state import ModelState, ProjectState
from django_tenants.migration_executors.base import run_migrations
from django_tenants.signals import schema_migrated, schema_pre_migration
from django_tenants.utils import schema_context

from ..models import SpareSchema
from ..schema_pool import is_spare_schema_name
from .catalogue import fingerprint_sql
from .plan import Group

# First key of the advisory lock a schema's migration holds (the second is the schema's): a
# second migrate_schemas waits for the schema instead of racing it. The two-key space never
# meets the one-key locks of onboarding.
LOCK_CLASS = 0x6D696772  # "migr"

NO_SCHEMA = "the schema does not exist"
CHANGED = (
    "its recorded migrations changed while migrate_schemas ran (another run at the same "
    "time?); run migrate_schemas again"
)


def schema_lock_key(schema_name: str) -> tuple[int, int]:
    """The (class, key) pair of `pg_advisory_xact_lock(class, key)` held while `schema_name`
    is migrated; whoever renames or drops a schema can take it to wait for the migration."""
    key = zlib.crc32(schema_name.encode())
    return LOCK_CLASS, key - (1 << 32) if key >= 1 << 31 else key


@dataclass
class Run:
    """What the workers need, set before they are forked (they inherit it)."""

    alias: str
    verbosity: int
    interactive: bool
    groups: dict[str, Group] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What happened to one schema."""

    schema: str
    applied: tuple[str, ...] = ()
    error: str = ""  # "<app>.<migration>: <exception>" when it failed (nothing kept)
    seconds: float = 0.0
    up_to_date: bool = False  # found already migrated (by another run) once locked
    gone: bool = False  # a spare claimed or dropped by the pool since the catalogue was read


_run: Run | None = None


def migrate_schema(job: tuple[str, str]) -> Outcome:
    """Apply its group's plan to one schema, all in one transaction when the plan allows:
    a failure leaves the schema exactly as it was (PostgreSQL's DDL is transactional)."""
    schema, fingerprint = job
    group = _run.groups[fingerprint]
    connection = connections[_run.alias]
    started = time.perf_counter()
    current = {"migration": None}

    def track(action, migration=None, fake=False):
        if action == "apply_start":
            current["migration"] = migration

    group.executor.progress_callback = track
    located = False
    try:
        with schema_context(schema, database=_run.alias):
            with transaction.atomic(using=_run.alias) if group.atomic else _nothing():
                if group.atomic and is_spare_schema_name(schema):
                    # Onboarding claims (renames) a spare, and the pool drops one, only under
                    # a lock on its pool row and never a row held by another: holding it keeps
                    # the spare where it is until this commits.
                    list(SpareSchema.objects.select_for_update().filter(name=schema))
                with _schema_lock(connection, schema, transactional=group.atomic) as now:
                    located = True
                    if now != fingerprint:
                        return _changed(group, schema, started)
                    _apply(group, schema)
    except Exception as exc:
        if not located and _undefined(exc):
            return _gone(schema)
        where = f"{current['migration']}: " if current["migration"] else ""
        # A broken connection must not fail the next schemas too: they reconnect.
        connection.close()
        return Outcome(schema, error=f"{where}{exc.__class__.__name__}: {exc}".strip())
    schema_migrated.send(run_migrations, schema_name=schema)
    return Outcome(schema, tuple(group.labels), seconds=time.perf_counter() - started)


def _apply(group: Group, schema: str) -> None:
    """Django migrate's own steps for one schema, minus what every schema of the group shares
    (loading the graph, the plan, the state before it): signals, migrations, replacements."""
    alias, interactive = _run.alias, _run.interactive
    # At 2, Django prints a line per app and signal: two dozen per schema, from the workers.
    verbosity = min(_run.verbosity, 1)
    schema_pre_migration.send(run_migrations, schema_name=schema)
    state = group.state.clone()
    emit_pre_migrate_signal(verbosity, interactive, alias, apps=state.apps, plan=group.plan)
    state = group.executor.migrate(group.targets, plan=group.plan, state=state)
    emit_post_migrate_signal(
        verbosity, interactive, alias, apps=_post_migrate_apps(state), plan=group.plan
    )


def _post_migrate_apps(state: ProjectState):
    """The apps post_migrate receivers get, built as Django's migrate builds them: apps without
    migrations re-rendered from the real models, now that their relations can be resolved."""
    state.clear_delayed_apps_cache()
    post_apps = state.apps
    with post_apps.bulk_update():
        model_keys = []
        for model_state in post_apps.real_models:
            model_keys.append((model_state.app_label, model_state.name_lower))
            post_apps.unregister_model(*model_keys[-1])
    post_apps.render_multiple(
        [ModelState.from_model(global_apps.get_model(*key)) for key in model_keys]
    )
    return post_apps


def _changed(group: Group, schema: str, started: float) -> Outcome:
    """The schema's rows differ from when the catalogue was read: up to date if another run
    applied this plan meanwhile, otherwise a failure (nothing was applied)."""
    recorded = group.executor.recorder.applied_migrations()
    if all((m.app_label, m.name) in recorded for m, _ in group.plan):
        return Outcome(schema, seconds=time.perf_counter() - started, up_to_date=True)
    return Outcome(schema, error=CHANGED)


def _gone(schema: str) -> Outcome:
    """The schema was renamed or dropped since the catalogue was read: nothing to do for a
    spare (claimed by onboarding, or dropped by the pool), a failure for an organization."""
    if is_spare_schema_name(schema):
        return Outcome(schema, gone=True)
    return Outcome(schema, error=NO_SCHEMA)


@contextmanager
def _nothing():
    yield


@contextmanager
def _schema_lock(connection, schema: str, *, transactional: bool):
    """Hold the schema's migration lock; yields the fingerprint of its django_migrations,
    read once the lock is held, in the same round trip."""
    key = schema_lock_key(schema)
    if transactional:
        # A lost commit costs only a rerun (the schema keeps its old state, whole), so
        # commits do not wait for their WAL flush; flush_commits() waits once at the end.
        sql = "SET LOCAL synchronous_commit TO off; SELECT pg_advisory_xact_lock(%s, %s); "
    else:
        # Migrations that must run outside a transaction: a session lock, released after.
        # Nothing holds a spare's pool row meanwhile (a row lock needs a transaction), so
        # such a plan should not be deployed while onboarding claims spares.
        sql = "SELECT pg_advisory_lock(%s, %s); "
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql + fingerprint_sql(schema), [*key, schema])
            fingerprint = cursor.fetchone()[1]
        yield fingerprint
    finally:
        if not transactional:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)


def _undefined(exc: Exception) -> bool:
    """Whether `exc` says the schema or its django_migrations table does not exist."""
    return getattr(exc.__cause__, "pgcode", None) in {"42P01", "3F000"}


def flush_commits(connection) -> None:
    """Wait until every commit made so far is on disk: a synchronous commit that writes a
    commit record flushes the WAL up to it, the workers' asynchronous commits included."""
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()")


def _close_connections() -> None:
    connections.close_all()


def _start_worker() -> None:
    # Closed cleanly when the pool stops the worker, rather than dropped with the process.
    Finalize(None, _close_connections, exitpriority=10)


def run_jobs(run: Run, jobs: list[tuple[str, str]], processes: int) -> Iterator[Outcome]:
    """Migrate each (schema, fingerprint) of `jobs`, yielding each Outcome as it finishes: in
    `processes` forked workers, or in this process when one is enough."""
    global _run
    _run = run
    try:
        if processes <= 1 or len(jobs) <= 1:
            for job in jobs:
                yield migrate_schema(job)
            return
        # A forked worker must never share the parent's database connection.
        connections.close_all()
        pool = ProcessPoolExecutor(
            min(processes, len(jobs)),
            mp_context=multiprocessing.get_context("fork"),
            initializer=_start_worker,
        )
        try:
            futures = {pool.submit(migrate_schema, job): job[0] for job in jobs}
            for future in as_completed(futures):
                try:
                    yield future.result()
                except BrokenProcessPool as exc:
                    # A worker killed (out of memory...): its schema's transaction dies with
                    # its connection; the schemas it had not reached are reported, not lost.
                    yield Outcome(futures[future], error=f"its worker process died ({exc})")
        finally:
            # Interrupted: schemas not started are cancelled, running ones finish.
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        _run = None
