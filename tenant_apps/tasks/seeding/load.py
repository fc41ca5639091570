"""One bulk load of tasks and assignments into the current organization, in one transaction.

Strategy (decided per load, from the rows already there):

* **Big load into an empty or small table** (at least BULK_MIN_ROWS, and at least as many
  rows as the table has): the secondary indexes are dropped and built after the COPY, each in
  one sorted pass, several times cheaper than inserting every row into a dozen B-trees. The
  table is locked ACCESS EXCLUSIVE meanwhile (the organization's task API waits). An empty
  table is also truncated in the transaction, so that COPY can write the rows frozen and
  all-visible (COPY FREEZE): index-only scans work at once, and no VACUUM has to rewrite
  every page afterwards.
* **Small load, or into a table that already has more rows**: the indexes are kept (building
  them again would sort every existing row, to add fewer); the lock is SHARE ROW EXCLUSIVE, so
  the organization's reads go on and only task writes wait. VACUUM sets the visibility map
  after the commit (`tasks_vacuum`).

Foreign keys: for a load of at least BULK_MIN_ROWS, when the role may (a superuser), their
per-row check triggers, and only those, are off for the COPY (they would cost more than the
COPY itself; the dashboard's counting triggers still fire), and the loaded rows are checked
in one anti-join per key instead. Otherwise the triggers check each row, and for a big load
the keys between this organization's own tables are dropped and added back (one validating
scan each). Users are referenced without keys (tenant_apps.people): creators and assignees
are drawn from the organization's memberships, locked for the load.

Statistics and the visibility map: after a load of at least MAINTAIN_MIN_ROWS, ANALYZE in the
transaction (the first queries after the commit are planned on the new rows) and VACUUM after
it (`tasks_vacuum`). A smaller load leaves both to autovacuum, which analyzes a table after 50
changed rows plus a tenth of it and vacuums after 1,000 inserted plus a fifth, within a minute
(autovacuum_naptime): meanwhile the planner takes the row count from the table's pages, and a
page of a few thousand rows costs a fraction of a millisecond however it is planned. For the
1,000 tasks of each of `--orgs`' organizations the two would cost about as much as the COPY.
(On a server run with autovacuum off, as CI's is, nothing ever does: run `VACUUM (ANALYZE)`
on those tables yourself, as the benchmark's data builder does, bench/data.py.)

Ids come from the tables' identity sequences (a block reserved under the lock, so a following
ORM insert gets the next id). The load is recorded as one activity entry per project (actor:
none, a system job), written with one bump of the change counter in the same transaction, so
a dashboard cached before the load is never served after it.
"""

import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count

from shared_apps.organizations.models import Membership, Organization
from tenant_apps.activity.models import Activity, TargetType, Verb
from tenant_apps.activity.services import activity_record_many
from tenant_apps.projects.models import Project

from ..models import Task
from . import bulk
from .rows import ASSIGNEE_COLUMNS, TASK_COLUMNS, TaskPlan, assignee_lines, task_lines

TASKS = Task._meta.db_table
ASSIGNEES = Task.assignees.through._meta.db_table

# Loads of at least this many rows are analyzed and vacuumed at once (see above).
MAINTAIN_MIN_ROWS = 10_000

# `progress(description, total)` returns a context manager giving an `update(n)` callable.
Progress = Callable[[str, int], AbstractContextManager[Callable[[int], object]]]


def no_progress(description: str, total: int) -> AbstractContextManager[Callable[[int], object]]:
    return nullcontext(lambda n: None)


class LoadError(Exception):
    """The load cannot go ahead (a project or member vanished, a row broke a foreign key)."""


@dataclass
class LoadReport:
    """What one load did, and the seconds each stage took."""

    tasks: int = 0
    assignments: int = 0
    first_id: int | None = None
    existing: int = 0
    # Dropped for the load and built after it: name -> seconds its build took.
    rebuilt_indexes: dict[str, float] = field(default_factory=dict)
    frozen: bool = False
    foreign_key_checks: str = ""
    # Whether ANALYZE ran and VACUUM is due (MAINTAIN_MIN_ROWS); autovacuum's otherwise.
    maintained: bool = False
    seconds: dict[str, float] = field(default_factory=dict)


class _Stages:
    def __init__(self, report: LoadReport):
        self._report = report
        self._last = time.perf_counter()

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self._report.seconds[name] = self._report.seconds.get(name, 0.0) + now - self._last
        self._last = now


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {bulk.qualified(table)}")  # a model's table
        return cursor.fetchone()[0]


def _lock_tables(mode: str) -> None:
    tables = ", ".join(bulk.qualified(table) for table in (TASKS, ASSIGNEES))
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {tables} IN {mode} MODE")


def _lock_referenced(organization: Organization, project_ids, member_ids) -> None:
    """FOR KEY SHARE on the projects and memberships the rows will name: a project cannot be
    deleted, nor a member removed (which would have to end their assignments), until the load
    commits. (Users' rows are never deleted: tenant_apps.people.)"""
    project_table = connection.ops.quote_name(Project._meta.db_table)
    membership_table = connection.ops.quote_name(Membership._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {project_table} WHERE id = ANY(%s) AND deleted_at IS NULL"
            " FOR KEY SHARE",
            [sorted(project_ids)],
        )
        live = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            f"SELECT user_id FROM {membership_table} WHERE organization_id = %s"
            " AND user_id = ANY(%s) FOR KEY SHARE",
            [organization.pk, sorted(member_ids)],
        )
        members = {row[0] for row in cursor.fetchall()}
    if missing := set(project_ids) - live:
        raise LoadError(f"These projects are gone or in the trash: {sorted(missing)}.")
    if missing := set(member_ids) - members:
        raise LoadError(f"These users are not members of {organization.slug}: {sorted(missing)}.")


def _record(per_project: Counter, before: dict[int, int]) -> None:
    """One `updated` entry per project that received tasks, `{"tasks": [before, after]}`,
    with one bump of the change counter."""
    names = dict(Project.objects.filter(pk__in=per_project).values_list("id", "name"))
    activity_record_many(
        Activity(
            actor=None,
            verb=Verb.UPDATED,
            target_type=TargetType.PROJECT,
            target_id=project_id,
            target_label=names[project_id],
            project_id=project_id,
            changes={"tasks": [before.get(project_id, 0), before.get(project_id, 0) + added]},
        )
        for project_id, added in sorted(per_project.items())
    )


@transaction.atomic
def tasks_load(
    *,
    organization: Organization,
    count: int,
    project_ids: Sequence[int],
    member_ids: Sequence[int],
    seed: int,
    until: datetime,
    progress: Progress = no_progress,
) -> LoadReport:
    """Load `count` generated tasks (TaskPlan) into the current schema, which must be
    `organization`'s; creators and assignees are drawn from `member_ids`."""
    if connection.schema_name != organization.schema_name:
        raise LoadError(f"Not in {organization.slug}'s schema (use tenant_context).")
    report = LoadReport()
    stages = _Stages(report)
    # ALTER TABLE refuses a table with deferred checks still pending from earlier writes of
    # this transaction (a caller's, or a test's): run those checks now. Foreign keys are then
    # checked at each statement's end for the rest of the transaction.
    bulk.run_all(["SET CONSTRAINTS ALL IMMEDIATE"])
    existing = _count(TASKS)
    rebuild = count >= max(bulk.BULK_MIN_ROWS, existing)
    _lock_tables("ACCESS EXCLUSIVE" if rebuild else "SHARE ROW EXCLUSIVE")
    report.existing = existing = _count(TASKS)
    _lock_referenced(organization, project_ids, member_ids)
    before = dict(
        Task.objects.filter(project_id__in=project_ids)
        .order_by()
        .values_list("project_id")
        .annotate(n=Count("*"))
    )
    report.first_id = bulk.reserve_ids(TASKS, count) if count else None
    plan = TaskPlan(
        count=count,
        first_id=report.first_id or 1,
        project_ids=list(project_ids),
        creator_ids=sorted(member_ids),
        member_ids=sorted(member_ids),
        seed=seed,
        until=until,
    )
    skipped = bulk.skip_row_checks([TASKS, ASSIGNEES]) if count >= bulk.BULK_MIN_ROWS else None
    bulk_checks = skipped is not None
    report.foreign_key_checks = "verified in bulk" if bulk_checks else "checked per row"
    indexes, keys = [], []
    if rebuild:
        indexes = bulk.secondary_indexes(TASKS) + bulk.secondary_indexes(ASSIGNEES)
        keys = [] if bulk_checks else bulk.local_foreign_keys([TASKS, ASSIGNEES])
        bulk.run_all(ddl.drop for ddl in keys + indexes)
        # Truncating gives every remaining relation a new file (~4 ms each): worth it only
        # once the secondary indexes are gone and the load is big.
        if (
            existing == 0
            and _count(ASSIGNEES) == 0
            and not bulk.referenced_from_elsewhere([TASKS, ASSIGNEES])
        ):
            bulk.run_all([f"TRUNCATE {bulk.qualified(TASKS)}, {bulk.qualified(ASSIGNEES)}"])
            report.frozen = True
    stages.done("prepare")

    per_project: Counter = Counter()
    with progress("tasks", count) as update:
        bulk.copy_in(
            TASKS,
            TASK_COLUMNS,
            task_lines(plan, per_project=per_project),
            freeze=report.frozen,
            on_batch=update,
        )
    report.tasks = count
    stages.done("copy tasks")
    with progress("assignments", count) as update:
        bulk.copy_in(
            ASSIGNEES, ASSIGNEE_COLUMNS, assignee_lines(plan), freeze=report.frozen, on_batch=update
        )
    stages.done("copy assignments")

    if bulk_checks:
        bulk.restore_row_checks(skipped)
        try:
            bulk.verify_foreign_keys(TASKS, "t.id BETWEEN %s AND %s", [plan.first_id, plan.last_id])
            bulk.verify_foreign_keys(
                ASSIGNEES, "t.task_id BETWEEN %s AND %s", [plan.first_id, plan.last_id]
            )
        except bulk.ForeignKeyViolation as exc:
            raise LoadError(str(exc)) from exc
        stages.done("verify foreign keys")
    if rebuild:
        bulk.set_maintenance_work_mem()
        with progress("indexes", len(indexes) + len(keys)) as update:
            for ddl in indexes + keys:
                started = time.perf_counter()
                bulk.run_all([ddl.create])
                if ddl in indexes:
                    report.rebuilt_indexes[ddl.name] = round(time.perf_counter() - started, 3)
                update(1)
        stages.done("build indexes")

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {bulk.qualified(ASSIGNEES)} WHERE task_id BETWEEN %s AND %s",
            [plan.first_id, plan.last_id],
        )
        report.assignments = cursor.fetchone()[0] if count else 0
    if per_project:
        _record(per_project, before)
    stages.done("record")
    report.maintained = count >= MAINTAIN_MIN_ROWS
    if report.maintained:
        # Statistics now, so the first queries after the commit are planned on the new rows.
        bulk.run_all([f"ANALYZE {bulk.qualified(TASKS)}, {bulk.qualified(ASSIGNEES)}"])
        stages.done("analyze")
    return report


def tasks_vacuum(report: LoadReport) -> bool:
    """VACUUM the task tables after `report`'s load (outside any transaction, which VACUUM
    refuses), for the visibility map that index-only scans need; whether it ran. Not inside a
    transaction (tests), nor after a load below MAINTAIN_MIN_ROWS (autovacuum's). After COPY
    FREEZE too: it is nearly free there (all-frozen pages are skipped), and whether the map
    and pg_class's relallvisible are already set after COPY FREEZE differs between PostgreSQL
    versions (15 yes; 18, embedded, not always)."""
    if connection.in_atomic_block or not report.maintained:
        return False
    # The map is all this is for: index cleanup (flushing the trigram index's pending list
    # into the index) is left to autovacuum, and would cost more than the rest here.
    tables = f"{bulk.qualified(TASKS)}, {bulk.qualified(ASSIGNEES)}"
    bulk.run_all([f"VACUUM (INDEX_CLEANUP OFF) {tables}"])
    return True
