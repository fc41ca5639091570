"""The row-level reference: the brief's design (every organization's tasks in one table,
isolation by a join through memberships, only its three task indexes) in a database of its
own, with the same rows as this project's large organization plus as many of a second one.

Usage: DJANGO_SETTINGS_MODULE=saas.settings python -m bench.run --only rowlevel [--quick]

The database is `<DATABASE name>_rowlevel` on the same server (created on first use, then
reused; the test database is never touched): schema `full` holds bench-scale's tasks (a
million) and a copy of them for a second organization, schema `quick` the same from tl-quick
(50,000). Rows are streamed with COPY from the tenant schema to the reference (psycopg2's
copy_expert through a pipe: nothing is held in memory or on disk). Each scenario times the
same page both ways, as SQL, with fresh statements on every run:
  * row-level: `task JOIN project JOIN membership WHERE organization = ... AND user = ...`,
  * this project: the tenant schema's own query (no organization column, no join), as the
    API's paginator builds it.
"""

import argparse
import os
import sys
import threading
import time
from dataclasses import dataclass

import django

django.setup()

import psycopg2  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import F  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402
from psycopg2 import sql  # noqa: E402

from bench.core import Report, Row, timed  # noqa: E402
from bench.data import ensure_scale_org  # noqa: E402
from bench.plans import explain  # noqa: E402
from bench.task_list import QUICK, SCALE_TASKS, bench_user, ensure_sized_org  # noqa: E402
from saas.api.pagination import keyset_order, keyset_page  # noqa: E402
from shared_apps.organizations.models import Organization  # noqa: E402
from tenant_apps.tasks.models import Status, Task  # noqa: E402

SECTION = "row-level reference"
PAGE = 50
# Ids of the second organization's copies: past any id of the first.
SECOND_OFFSET = 100_000_000
FIRST_ORG, SECOND_ORG = 1, 2
# Members of each organization besides the bench user (the join reads their rows too).
MEMBERS = 200
COLUMNS = (
    "id, project_id, title, description, status, priority, due_date, created_by_id, "
    "created_at, updated_at"
)
# The brief's model: organizations, memberships, projects and tasks; its three task indexes
# (the project foreign key, status, due date). Memberships and projects carry the indexes
# Django would give them (unique pair, foreign key).
SCHEMA = """
    CREATE TABLE loaded (source text NOT NULL, tasks bigint NOT NULL);
    CREATE TABLE organization (id bigint PRIMARY KEY, name text NOT NULL);
    CREATE TABLE membership (
        id bigserial PRIMARY KEY,
        user_id bigint NOT NULL,
        organization_id bigint NOT NULL REFERENCES organization,
        role varchar(16) NOT NULL,
        UNIQUE (user_id, organization_id)
    );
    CREATE INDEX membership_organization ON membership (organization_id);
    CREATE TABLE project (
        id bigint PRIMARY KEY,
        organization_id bigint NOT NULL REFERENCES organization,
        name text NOT NULL
    );
    CREATE INDEX project_organization ON project (organization_id);
    CREATE TABLE task (
        id bigint PRIMARY KEY,
        project_id bigint NOT NULL REFERENCES project,
        title varchar(255) NOT NULL,
        description text NOT NULL,
        status varchar(16) NOT NULL,
        priority varchar(8) NOT NULL,
        due_date date,
        created_by_id bigint NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
    );
"""
INDEXES = """
    CREATE INDEX task_project ON task (project_id);
    CREATE INDEX task_status ON task (status);
    CREATE INDEX task_due_date ON task (due_date);
"""
# The isolation join: a user sees the tasks of the projects of organizations they belong to.
ROW_LEVEL_PAGE = """
    SELECT t.id, t.title, t.status, t.priority, t.due_date, t.created_at
    FROM task t
    JOIN project p ON p.id = t.project_id
    JOIN membership m ON m.organization_id = p.organization_id
    WHERE p.organization_id = %(organization)s AND m.user_id = %(user)s {condition}
    ORDER BY t.created_at DESC, t.id DESC
    LIMIT %(limit)s
"""
FIELDS = ("id", "title", "status", "priority", "due_date", "created_at")


def database_name() -> str:
    name = connection.settings_dict["NAME"]
    if name.startswith("test_"):
        raise SystemExit("bench.rowlevel never runs against a test database.")
    return f"{name}_rowlevel"


def connect(dbname: str):
    settings = connection.settings_dict
    return psycopg2.connect(
        dbname=dbname,
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        application_name="bench.rowlevel",
    )


def reference_database():
    """A connection to the reference database, created if missing (autocommit)."""
    name = database_name()
    admin = connect("postgres")
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        admin.close()
    reference = connect(name)
    reference.autocommit = True
    return reference


def stream(source_sql: str, params: list, reference, target_sql: str) -> None:
    """COPY the rows of `source_sql` (tenant schema, Django's connection) into the reference
    through a pipe: the source writes in this thread, the reference reads in another."""
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def load():
        try:
            with os.fdopen(read_fd, "rb") as pipe, reference.cursor() as cursor:
                cursor.copy_expert(target_sql, pipe)
        except BaseException as error:  # reported below, in the calling thread
            failure.append(error)

    loader = threading.Thread(target=load, name="rowlevel-copy")
    loader.start()
    try:
        with os.fdopen(write_fd, "wb") as pipe, connection.cursor() as cursor:
            cursor.copy_expert(cursor.mogrify(source_sql, params).decode(), pipe)
    finally:
        loader.join()
    if failure:
        raise failure[0]


def ensure_loaded(schema: str, organization: Organization, reference) -> int:
    """The reference's `schema` holding `organization`'s live tasks twice (two organizations);
    reloaded when the source changed size. Returns the first organization's task count."""
    with tenant_context(organization):
        tasks = Task.objects.count()
    source = organization.slug
    with reference.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        cursor.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema)))
        cursor.execute("SELECT to_regclass('loaded') IS NOT NULL")
        if cursor.fetchone()[0]:
            cursor.execute("SELECT source, tasks FROM loaded")
            if cursor.fetchone() == (source, tasks):
                return tasks
        started = time.perf_counter()
        cursor.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        cursor.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema)))
        cursor.execute(SCHEMA)
        cursor.execute(
            "INSERT INTO organization VALUES (%s, 'first'), (%s, 'second')",
            [FIRST_ORG, SECOND_ORG],
        )
        user_id = bench_user().pk
        cursor.execute(
            "INSERT INTO membership (user_id, organization_id, role) "
            "SELECT %(user)s, o, 'ADMIN' FROM unnest(ARRAY[%(first)s, %(second)s]) AS o "
            "UNION ALL SELECT -g, CASE WHEN g %% 2 = 0 THEN %(first)s ELSE %(second)s END, "
            "'MEMBER' FROM generate_series(1, %(members)s) AS g",
            {"user": user_id, "first": FIRST_ORG, "second": SECOND_ORG, "members": 2 * MEMBERS},
        )
    with tenant_context(organization):
        project_ids = list(Task.objects.order_by().values_list("project_id", flat=True).distinct())
        with reference.cursor() as cursor:
            for org, offset in ((FIRST_ORG, 0), (SECOND_ORG, SECOND_OFFSET)):
                cursor.executemany(
                    "INSERT INTO project VALUES (%s, %s, %s)",
                    [(pk + offset, org, f"Project {pk}") for pk in project_ids],
                )
        for offset in (0, SECOND_OFFSET):
            stream(
                "COPY (SELECT id + %s, project_id + %s, title, description, status, priority, "
                "due_date, created_by_id, created_at, updated_at FROM tasks_task "
                "WHERE deleted_at IS NULL ORDER BY id) TO STDOUT",
                [offset, offset],
                reference,
                f"COPY task ({COLUMNS}) FROM STDIN",
            )
    with reference.cursor() as cursor:
        cursor.execute(INDEXES)
        cursor.execute("VACUUM (ANALYZE) task, project, membership, organization")
        cursor.execute("INSERT INTO loaded VALUES (%s, %s)", [source, tasks])
    print(
        f"  {schema}: loaded 2 x {tasks:,} tasks in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return tasks


@dataclass(frozen=True)
class Page:
    """One page both ways: the row-level condition and this project's QuerySet."""

    name: str
    condition: str  # added to the row-level WHERE
    params: dict
    deep: bool = False


PAGES = [
    Page("first page (50 newest)", "", {}),
    Page("status=DONE (50 newest)", "AND t.status = %(status)s", {"status": Status.DONE}),
    Page(
        "a page half way down (keyset)",
        "AND (t.created_at, t.id) < (%(after_key)s, %(after_id)s)",
        {},
        deep=True,
    ),
]


def run(report: Report, *, quick: bool) -> None:
    runs = 3 if quick else 5
    organization = ensure_sized_org(QUICK) if quick else ensure_scale_org(SCALE_TASKS)
    reference = reference_database()
    try:
        tasks = ensure_loaded("quick" if quick else "full", organization, reference)
        # DEBUG=False: no query log on every statement timed.
        with override_settings(DEBUG=False), tenant_context(organization):
            pages(report, reference, tasks, runs=runs)
    finally:
        reference.close()


def pages(report: Report, reference, tasks: int, *, runs: int) -> None:
    user_id = bench_user().pk
    key = F("created_at")
    after_key, after_id = keyset_order(Task.objects.all(), key, True).values_list(
        "created_at", "id"
    )[tasks // 2]
    for page in PAGES:
        params = {
            "organization": FIRST_ORG,
            "user": user_id,
            "limit": PAGE,
            "after_key": after_key,
            "after_id": after_id,
            **page.params,
        }
        statement = ROW_LEVEL_PAGE.format(condition=page.condition)

        def row_level(statement=statement, params=params):
            with reference.cursor() as cursor:
                cursor.execute(statement, params)
                cursor.fetchall()

        # Both sides as SQL statements sent afresh: the ORM's own cost is in the API rows.
        schema_sql, schema_params = _schema_query(
            page, key, after_key, after_id
        ).query.sql_with_params()

        def schema(statement=schema_sql, params=schema_params):
            with connection.cursor() as cursor:
                cursor.execute(statement, params)
                cursor.fetchall()

        row_level_ms = timed(row_level, runs).p50
        schema_ms = timed(schema, runs).p50
        with reference.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", params)
            row_level_plan = "\n".join(line for (line,) in cursor.fetchall())
        report.add(
            Row(
                section=SECTION,
                scenario=f"{page.name}, {tasks:,}-task organization among {2 * tasks:,}: SQL p50",
                value=schema_ms,
                unit="ms",
                reference=row_level_ms,
                reference_name="row-level design",
                target="<= 1x",
                passed=schema_ms <= row_level_ms,
                details={
                    "row_level_sql": statement,
                    "row_level_plan": row_level_plan,
                    "schema_sql": schema_sql,
                    "schema_plan": explain(schema_sql, schema_params).text,
                },
            )
        )


def _schema_query(page: Page, key, after_key, after_id):
    """This project's page: the tenant schema's tasks, as the paginator builds it (afresh)."""
    tasks = Task.objects.all()
    if page.params.get("status"):
        tasks = tasks.filter(status=page.params["status"])
    if page.deep:
        tasks = keyset_page(tasks, key, True, after_key, after_id)
    else:
        tasks = keyset_order(tasks, key, True)
    return tasks.values_list(*FIELDS)[:PAGE]


def main() -> int:
    """This module alone: its table, nothing written (bench.run writes the results file)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    report = Report(quick=parser.parse_args().quick)
    run(report, quick=report.quick)
    print(report.table())
    return 1 if report.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
