"""Seeding: `manage.py seed_tasks` against a raw COPY plus index build of the same rows, and
its peak memory, for one large organization and for many small ones.

Usage: DJANGO_SETTINGS_MODULE=saas.settings python -m bench.run --only seed [--quick]
(`python -m bench.seed [--quick]` runs this module alone.)

* One organization: `seed_tasks --org seedbench-one --tasks 1000000 --projects 50 --users 200`
  (50,000 tasks with --quick), a new organization each run. The command runs as a process of
  its own, so its peak RSS (`ru_maxrss`, which it prints) is its own; its time is the
  process's wall time, Python start-up, onboarding, members and projects included. As in
  production, onboarding finds a spare schema in the pool (refilled before each run, untimed).
  At --quick's 50,000 tasks those fixed costs (the row's `fixed_s`: start-up, 200 users and
  members, 50 projects) are most of the time, so the ratio there says little; it is the full
  run's that the target is about.
* The reference, in this process: the same rows (same generator, seed, projects and members)
  COPYed into bare copies of the two task tables in a scratch schema (`seedbench_raw`:
  columns, defaults, identity and checks, no index, no foreign key), then every index of the
  real tables built on them (primary keys and unique ones too), with the same
  maintenance_work_mem. Only the COPYs and the index builds are timed.
* Many organizations: `seed_tasks --orgs N --tasks-per-org 1000 --prefix seedbench-m`, with
  N = 1,000 when onboarding claims prepared schemas from the pool (the spares are built
  beforehand, untimed: that is the pool's background work), fewer otherwise (the row's
  details say so); 20 with --quick. Compared per organization: the load (COPY, checks, its
  activity entries; ANALYZE and VACUUM only from 10,000 tasks, autovacuum's below:
  tenant_apps/tasks/seeding/load.py) against the raw COPY plus index build of one
  organization's rows.

Organizations are `seedbench-*`, dropped (schemas included) with their seeded users
(`seedbench-...@seed.example.com`) before each run and at the end.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402

from bench.core import Report, Row  # noqa: E402
from bench.databases import users_delete  # noqa: E402
from shared_apps.organizations.models import Membership, Organization  # noqa: E402
from tenant_apps.projects.models import Project  # noqa: E402
from tenant_apps.tasks.seeding import bulk  # noqa: E402
from tenant_apps.tasks.seeding.load import ASSIGNEES, TASKS  # noqa: E402
from tenant_apps.tasks.seeding.organizations import (  # noqa: E402
    default_until,
    organization_slugs,
    project_name,
)
from tenant_apps.tasks.seeding.rows import (  # noqa: E402
    ASSIGNEE_COLUMNS,
    TASK_COLUMNS,
    TaskPlan,
    assignee_lines,
    task_lines,
)

BASE_DIR = Path(__file__).resolve().parent.parent
SECTION = "seed"
SLUG_PREFIX = "seedbench-"
ONE = "seedbench-one"
MANY_PREFIX = "seedbench-m"
RAW_SCHEMA = "seedbench_raw"
# The users seed_tasks makes for them (seeding.organizations.EMAIL), as a LIKE pattern.
SEEDED_USERS = f"{SLUG_PREFIX}%@seed.example.com"
TASK_COUNT = {False: 1_000_000, True: 50_000}  # by `quick`
PROJECTS, USERS = 50, 200
RUNS = 3
ORGS = {False: 1_000, True: 20}
ORGS_WITHOUT_POOL = 50  # full mode, when onboarding still migrates each schema
TASKS_PER_ORG = 1_000
ORG_PROJECTS, ORG_USERS = 5, 10
RAW_SAMPLE = 10  # organizations whose rows the per-organization reference is timed on
SEED = 1
FIXED = ("organization and members", "projects")  # seed_tasks' stages that do not grow
TARGET_RATIO = 2.0
TARGET_RSS_MB = 250


def drop_organizations() -> int:
    """Drop every `seedbench-*` organization, schema included, and the users seeded for
    them (nothing else refers to those)."""
    connection.set_schema_to_public()
    dropped = 0
    for organization in Organization.objects.filter(slug__startswith=SLUG_PREFIX):
        organization.delete(force_drop=True)
        dropped += 1
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {RAW_SCHEMA} CASCADE")
    users_delete("email LIKE %s", [SEEDED_USERS])
    return dropped


def seed_command(*args: str) -> tuple[float, dict]:
    """Run `manage.py seed_tasks ... --json` as a process; (wall seconds, its summary)."""
    command = [sys.executable, "manage.py", "seed_tasks", *args, "--json", "--no-progress"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=BASE_DIR, capture_output=True, text=True, env=os.environ)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds, json.loads(done.stdout.strip().splitlines()[-1])


def _plan_of(organization: Organization, *, count: int, projects: int, seed: int) -> TaskPlan:
    """The plan seed_tasks loaded into `organization` (same projects, members, seed, day)."""
    members = sorted(
        Membership.objects.filter(organization=organization).values_list("user_id", flat=True)
    )
    with tenant_context(organization):
        names = [project_name(number) for number in range(projects)]
        ids = dict(Project.objects.filter(name__in=names).values_list("name", "id"))
    return TaskPlan(
        count=count,
        first_id=1,
        project_ids=[ids[name] for name in names],
        creator_ids=members,
        member_ids=members,
        seed=seed,
        until=default_until(),
    )


def _index_statements(organization: Organization, table: str) -> list[str]:
    """CREATE INDEX statements of every index of the organization's `table`, aimed at the
    scratch schema's copy."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass"
            " ORDER BY indexrelid",
            [f'"{organization.schema_name}"."{table}"'],
        )
        statements = [row[0] for row in cursor.fetchall()]
    return [
        re.sub(r" ON \S+ USING ", f' ON "{RAW_SCHEMA}"."{table}" USING ', sql, count=1)
        for sql in statements
    ]


def raw_copy_and_index(organization: Organization, plan: TaskPlan) -> dict[str, float]:
    """The reference: COPY the plan's rows into bare copies of the task tables, then build
    every index of the real ones; seconds of each part."""
    connection.set_schema_to_public()
    tables = (TASKS, ASSIGNEES)
    statements = [sql for table in tables for sql in _index_statements(organization, table)]
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {RAW_SCHEMA} CASCADE; CREATE SCHEMA {RAW_SCHEMA}")
        for table in tables:
            cursor.execute(
                f'CREATE TABLE "{RAW_SCHEMA}"."{table}" (LIKE "{organization.schema_name}".'
                f'"{table}" INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING IDENTITY'
                " INCLUDING CONSTRAINTS)"
            )
    with transaction.atomic():
        bulk.set_maintenance_work_mem()
        started = time.perf_counter()
        bulk.copy_in(f'"{RAW_SCHEMA}"."{tables[0]}"', TASK_COLUMNS, task_lines(plan))
        bulk.copy_in(f'"{RAW_SCHEMA}"."{tables[1]}"', ASSIGNEE_COLUMNS, assignee_lines(plan))
        copied = time.perf_counter()
        bulk.run_all(statements)
        indexed = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA {RAW_SCHEMA} CASCADE")
    return {"copy": copied - started, "index": indexed - copied, "total": indexed - started}


def _one_organization(report: Report, *, quick: bool) -> None:
    count = TASK_COUNT[quick]
    pool_refill = _pool_refill()
    seed_runs, raw_runs, summaries, pool_notes = [], [], [], []
    for _ in range(RUNS):
        drop_organizations()
        # Onboarding as in production: a spare schema ready to claim (built untimed).
        pool_notes.append(_prepare_pool(pool_refill, 1))
        seconds, summary = seed_command(
            "--org", ONE, "--tasks", str(count), "--projects", str(PROJECTS),
            "--users", str(USERS), "--seed", str(SEED),
        )  # fmt: skip
        seed_runs.append(seconds)
        summaries.append(summary)
        organization = Organization.objects.get(slug=ONE)
        plan = _plan_of(organization, count=count, projects=PROJECTS, seed=SEED)
        raw_runs.append(raw_copy_and_index(organization, plan))
    drop_organizations()
    seed_s = statistics.median(seed_runs)
    raw_s = statistics.median(run["total"] for run in raw_runs)
    last = summaries[-1]
    label = f"seed_tasks --org: {count:,} tasks, {PROJECTS} projects, {USERS} users"
    report.add(
        Row(
            SECTION,
            f"{label}: time",
            seed_s,
            "s",
            reference=raw_s,
            reference_name="raw COPY + index build of the same rows",
            target=f"<= {TARGET_RATIO:.1f}x",
            passed=seed_s <= TARGET_RATIO * raw_s,
            details={
                "seed_wall_s": seed_runs,
                "seed_in_command_s": [summary["seconds"] for summary in summaries],
                # What does not grow with the tasks: Python start-up, onboarding, creating the
                # users and members, projects. It weighs on small loads (--quick).
                "fixed_s": [
                    wall
                    - summary["seconds"]
                    + sum(summary["stages"].get(name, 0) for name in FIXED)
                    for wall, summary in zip(seed_runs, summaries, strict=True)
                ],
                "seed_stages_s": last["stages"],
                "raw_s": raw_runs,
                "rebuilt_indexes": last["rebuilt_indexes"],
                "frozen": last["frozen"],
                "foreign_key_checks": last["foreign_key_checks"],
                "assignments": last["assignments"],
                "runs": RUNS,
                "pool": pool_notes,
            },
        )
    )
    rss = max(summary["peak_rss_mb"] for summary in summaries)
    report.add(
        Row(
            SECTION,
            f"{label}: peak RSS",
            rss,
            "MB",
            target=f"<= {TARGET_RSS_MB} MB",
            passed=rss <= TARGET_RSS_MB,
            deterministic=True,
            details={"peak_rss_mb": [summary["peak_rss_mb"] for summary in summaries]},
        )
    )


def _pool_refill():
    """The schema pool's refill, if onboarding has a pool (None otherwise)."""
    try:
        from shared_apps.organizations.schema_pool.pool import pool_refill
    except ImportError:
        return None
    return pool_refill


def _prepare_pool(pool_refill, count: int) -> str:
    """Build spare schemas beforehand until the pool holds `count` (untimed: in production
    the pool refills in the background); how it went."""
    if pool_refill is None:
        return "no schema pool: onboarding migrates every new schema"
    started = time.perf_counter()
    refill = pool_refill(size=count)
    return (
        f"{len(refill.created)} spare schemas built beforehand in "
        f"{time.perf_counter() - started:.1f} s (untimed)"
    )


def _many_organizations(report: Report, *, quick: bool) -> None:
    pool_refill = _pool_refill()
    pooled = pool_refill is not None
    count = ORGS[quick] if (pooled or quick) else ORGS_WITHOUT_POOL
    drop_organizations()
    pool_note = _prepare_pool(pool_refill, count)
    wall, summary = seed_command(
        "--orgs", str(count), "--tasks-per-org", str(TASKS_PER_ORG), "--prefix", MANY_PREFIX,
        "--projects", str(ORG_PROJECTS), "--users", str(ORG_USERS), "--seed", str(SEED),
    )  # fmt: skip
    stages = summary["median_stage_seconds"]
    load_names = ("prepare", "copy tasks", "copy assignments", "verify foreign keys")
    load_names += ("build indexes", "record", "analyze", "vacuum")
    load_ms = 1000 * sum(stages.get(name, 0.0) for name in load_names)
    raw_ms = []
    slugs = organization_slugs(MANY_PREFIX, count)
    for number, slug in enumerate(slugs[:RAW_SAMPLE], start=1):
        organization = Organization.objects.get(slug=slug)
        plan = _plan_of(
            organization,
            count=TASKS_PER_ORG,
            projects=ORG_PROJECTS,
            seed=SEED * 1_000_003 + number,
        )
        raw_ms.append(1000 * raw_copy_and_index(organization, plan)["total"])
    drop_organizations()
    raw = statistics.median(raw_ms)
    label = f"seed_tasks --orgs {count} --tasks-per-org {TASKS_PER_ORG:,}"
    details = {
        "pool": pool_note,
        "organizations": count,
        "wall_s": wall,
        "median_stage_s": stages,
        "raw_ms_sample": raw_ms,
    }
    if not pooled and not quick:
        details["note"] = (
            f"{count} organizations, not {ORGS[False]}: without a schema pool each one "
            "migrates its schema"
        )
    report.add(
        Row(
            SECTION,
            f"{label}: load per organization",
            load_ms,
            "ms",
            reference=raw,
            reference_name="raw COPY + index build of one organization's rows",
            target=f"<= {TARGET_RATIO:.1f}x",
            passed=load_ms <= TARGET_RATIO * raw,
            details=details,
        )
    )
    report.add(
        Row(
            SECTION,
            f"{label}: whole organization (onboarding, members, projects, load)",
            1000 * summary["median_seconds_per_org"],
            "ms",
            details={"total_s": summary["seconds"], **details},
        )
    )
    report.add(
        Row(
            SECTION,
            f"{label}: peak RSS",
            summary["peak_rss_mb"],
            "MB",
            target=f"<= {TARGET_RSS_MB} MB",
            passed=summary["peak_rss_mb"] <= TARGET_RSS_MB,
            deterministic=True,
        )
    )


def run(report: Report, *, quick: bool) -> None:
    try:
        _one_organization(report, quick=quick)
        _many_organizations(report, quick=quick)
    finally:
        drop_organizations()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    standalone = Report(quick=args.quick)
    run(standalone, quick=args.quick)
    print(standalone.table())
