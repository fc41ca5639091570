"""10,000 organizations on one node: provisioning them through the schema pool,
the API on one of them against the same organization with 10 in the database, a PostgreSQL
connection's memory after serving 1,000 organizations (with and without recycling it), the
catalogue's size per organization, migrate_schemas with nothing pending, and pg_dump.

Usage: DJANGO_SETTINGS_MODULE=saas.settings python -m bench.run --only many_orgs [--quick]
(--quick: 50 organizations instead of 10,000, the memory pass serves all of them, no pg_dump.
`BENCH_MANY_ORGS=N` provisions N instead of 10,000. Building a spare costs somewhat more the
more organizations exist (the provisioning row gives it per thousand organizations): a full
10,000 took 22.5 minutes on a 2-core machine.)

Databases of its own (never the development database; the names follow DATABASES' NAME):
  * `saas_bench_many_base`, the template: migrated, 10 organizations (`many-main`, the one
    measured, with MAIN_TASKS seeded tasks, 20 members and 10 projects; `many-00001`...
    `many-00009`, each with its own first ADMIN), the pool's recorded migration, no spare.
    Built once, again when the migrations on disk change.
  * `saas_bench_many`: a copy of the template, measured at 10 organizations, then grown to N
    (`many-00010`...) by the product's fast path: `pool_refill` builds spares by replaying
    the recorded migration, `organization_create` claims one per organization.
  * `saas_bench_many_10`: another copy, left at 10 organizations, the reference the API is
    compared with after provisioning.
The two copies are made afresh by each run and left in place after it. Every step runs as a
process of its own against one of them (`python -m bench.many_orgs ACTION`, printing JSON on
its last line, progress on stderr).

API: the same five requests on `many-main` through the test client (routing, token,
membership, rate-limit counts in Redis, serialization), fresh requests, medians. After
provisioning, one process per database waits between rounds; the databases take turns
request round by request round, in alternating order, so a change of load on the machine
weighs on both alike. The same rounds on the working database before provisioning are in
each row's details.
Memory: one connection serves 4 requests (task list, a task's detail, dashboard, activity)
in each of MEMORY_ORGS organizations (each with a project and two tasks); the backend's
memory contexts (`pg_backend_memory_contexts`: all, and CacheMemoryContext with its
children, where relcache and catcache live) and its private memory (`RssAnon` in
/proc/<backend pid>/status, when readable) are sampled before each organization; then the
same pass with CONN_MAX_SCHEMAS (saas/db/recycle.py) set to RECYCLE_AFTER.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.databases import connect, database_url

BASE_DIR = Path(__file__).resolve().parent.parent
SECTION = "many organizations"
# By `quick`. BENCH_MANY_ORGS sets the full run's count: provisioning time grows faster than
# the count (a spare costs more to build as schemas accumulate, see the provisioning row).
ORGANIZATIONS = {False: int(os.environ.get("BENCH_MANY_ORGS", "10000")), True: 50}
BASE_ORGANIZATIONS = 10
MEMORY_ORGS = {False: 1_000, True: 50}
# CONN_MAX_SCHEMAS for the recycling pass, by `quick` (a pass must recycle a few times).
RECYCLE_AFTER = {False: 100, True: 10}
# Rounds of the five requests timed per database (after API_WARMUP untimed ones).
API_ROUNDS = {False: 60, True: 15}
API_WARMUP = 3
# Rounds of a new connection's first request per database (seconds each at 10,000).
CONNECT_ROUNDS = {False: 15, True: 5}
MIGRATE_RUNS = {False: 3, True: 1}
RATIO_TARGET = 1.2
BATCH = 100  # spares built per refill while provisioning
MAIN_SLUG = "many-main"
MAIN_TASKS = 10_000
SLUG = "many-{number:05d}"
ADMIN_EMAIL = "many-admin@bench.example.com"
USER_EMAIL = "{slug}@bench.example.com"
# Far above what the bench sends: every request still pays for its counts, none is refused.
UNREACHABLE_RATE = "100000000/min"
REQUESTS = (
    "task list, first page",
    "task detail",
    "dashboard, cached",
    "dashboard, uncached",
    "activity list",
)
# Catalogue tables whose rows grow with each schema (pg_statistic grows with ANALYZE).
CATALOGUE_TABLES = (
    "pg_class",
    "pg_attribute",
    "pg_index",
    "pg_constraint",
    "pg_depend",
    "pg_type",
    "pg_attrdef",
    "pg_trigger",
    "pg_sequence",
    "pg_namespace",
)


def run(report, *, quick: bool) -> None:
    from bench.core import Row, Timing

    organizations = ORGANIZATIONS[quick]
    base, work, ten = (_database_name(suffix) for suffix in ("base", "", "10"))
    nonce = f"{time.time_ns() % 10**9}"
    _ensure_template(base)
    for name in (work, ten):
        _copy(base, name)

    before = _api_rounds([work], nonce, rounds=API_ROUNDS[quick])[work]
    migrate_10 = _migrate_noop(ten, runs=1)
    provisioned = _python(work, nonce, "provision", str(organizations))
    # The copy at 10 organizations and the database at N, in turn.
    compared = _api_rounds([work, ten], nonce, rounds=API_ROUNDS[quick])
    connected = _api_rounds([work, ten], nonce, rounds=CONNECT_ROUNDS[quick], action="connect")
    catalogue_n = _python(work, nonce, "catalogue")
    catalogue_10 = _python(ten, nonce, "catalogue")
    memory_orgs = min(MEMORY_ORGS[quick], organizations - 1)
    kept = _python(work, nonce, "memory", str(memory_orgs), "0")
    recycled = _python(work, nonce, "memory", str(memory_orgs), str(RECYCLE_AFTER[quick]))
    migrate_n = _migrate_noop(work, runs=MIGRATE_RUNS[quick])
    dump = None if quick else _pg_dump(work)

    # (a) Provisioning.
    claims = Timing(tuple(provisioned["claim_ms"]))
    refills = Timing(tuple(provisioned["refill_ms"]))
    made = len(claims.samples)
    buckets = _buckets(provisioned["claim_ms"], provisioned["refill_ms"], BASE_ORGANIZATIONS)
    report.add(
        Row(
            SECTION,
            f"provision {made:,} organizations (pool refill + claim), total",
            provisioned["wall_s"] / 60,
            "min",
            details={
                "organizations in the database": provisioned["organizations"],
                "per organization, all in (s)": round(provisioned["wall_s"] / made, 3),
                "claim (organization_create) p50/p99 ms": _pair(claims),
                "refill per spare (replay) p50/p99 ms": _pair(refills),
                "first admins (user_create) s": round(provisioned["users_s"], 1),
                "the provisioning backend's growth (kB) per spare built / per claim": [
                    round(provisioned["refill_kb"], 1),
                    round(provisioned["claim_kb"], 1),
                ],
                "by thousand organizations: claim p50 ms / refill p50 ms": buckets,
            },
        )
    )
    report.add(
        Row(
            SECTION,
            f"new organization from the pool at {organizations:,} organizations, p50",
            claims.p50,
            "ms",
            reference=refills.p50,
            reference_name="building its spare (background refill, per spare)",
            details={"p99 ms": round(claims.p99, 1), "organizations": made},
        )
    )

    # (b) The API with N organizations against 10.
    for name in REQUESTS:
        at_n = Timing(tuple(compared[work]["samples"][name]))
        at_10 = Timing(tuple(compared[ten]["samples"][name]))
        sequential = Timing(tuple(before["samples"][name]))
        report.add(
            Row(
                SECTION,
                f"{name}, {organizations:,} organizations vs 10, p50",
                at_n.p50,
                "ms",
                reference=at_10.p50,
                reference_name="same org, copy of the database at 10 organizations",
                target=f"<= {RATIO_TARGET}x",
                passed=at_n.p50 <= RATIO_TARGET * at_10.p50,
                details={
                    "rounds (each request once per database, alternating order)": len(at_n.samples),
                    f"p99 ms at {organizations:,} / 10": [round(at_n.p99, 2), round(at_10.p99, 2)],
                    "same database before provisioning (10 organizations), p50 ms": round(
                        sequential.p50, 2
                    ),
                    "ratio to it": round(at_n.p50 / sequential.p50, 2),
                },
            )
        )

    # A new connection's first request: what the users table's triggers cost it.
    _connection_rows(report, connected[work], connected[ten])

    # (c) Backend memory after serving many organizations, and with recycling.
    _memory_rows(report, kept, recycled, quick=quick)

    # (d) Catalogue per organization, migrate_schemas with nothing pending.
    _catalogue_rows(report, catalogue_n, catalogue_10)
    report.add(
        Row(
            SECTION,
            f"migrate_schemas, nothing pending, {organizations:,} organizations",
            migrate_n["p50_s"],
            "s",
            reference=migrate_10["p50_s"],
            reference_name="the same at 10 organizations",
            details={"runs (s)": migrate_n["runs"], "summary": migrate_n["summary"]},
        )
    )
    if dump is not None:
        report.add(
            Row(
                SECTION,
                f"pg_dump --schema-only, {organizations:,} organizations"
                + ("" if dump["exit_status"] == 0 else " (FAILED)"),
                dump["seconds"],
                "s",
                details={
                    "exit status": dump["exit_status"],
                    "error": dump["error"],
                    "tables it locks": dump["tables"],
                    "lock table slots (max_locks_per_transaction x (max_connections + "
                    "max_prepared_transactions))": dump["lock_slots"],
                },
            )
        )
    report.note(
        "many organizations: API rows compare the same organization in two databases (N "
        "organizations and a copy left at 10), request by request in turn; bench/many_orgs.py."
    )


def _pair(timing) -> list[float]:
    return [round(timing.p50, 1), round(timing.p99, 1)]


def _buckets(claim_ms: list[float], refill_ms: list[float], start: int) -> dict[str, list]:
    """Claim and refill p50 per thousand organizations in the database (flat or growing)."""
    out = {}
    for first in range(0, len(claim_ms), 1000):
        last = min(first + 1000, len(claim_ms))
        label = f"{start + first + 1:,}-{start + last:,}"
        out[label] = [
            round(statistics.median(claim_ms[first:last]), 1),
            round(statistics.median(refill_ms[first:last]), 1),
        ]
    return out


def _connection_rows(report, at_n: dict, at_10: dict) -> None:
    """A new connection at N organizations against 10: its first request, its backend's
    memory, an update of a user's row, and the triggers on the users table behind them."""
    from bench.core import Row, Timing

    organizations = at_n["organizations"]
    first_n, first_10 = (Timing(tuple(f["samples"]["first request"])) for f in (at_n, at_10))
    triggers_n, triggers_10 = at_n["user_triggers"], at_10["user_triggers"]
    report.add(
        Row(
            SECTION,
            f"task list as a new connection's first request, {organizations:,} "
            "organizations vs 10, p50",
            first_n.p50,
            "ms",
            reference=first_10.p50,
            reference_name="same org, copy of the database at 10 organizations",
            target=f"<= {RATIO_TARGET}x",
            passed=first_n.p50 <= RATIO_TARGET * first_10.p50,
            details={
                "rounds": len(first_n.samples),
                "p99 ms at N / 10": [round(first_n.p99, 1), round(first_10.p99, 1)],
                "what": "a new backend fills its catalogue caches for what the request "
                "touches; no trigger per organization on the users table to load (tenant "
                "tables reference users without foreign keys: tenant_apps/people.py)",
            },
        )
    )
    memory_n, memory_10 = (
        statistics.median(f["samples"]["contexts"]) / 2**20 for f in (at_n, at_10)
    )
    rss = [f["samples"]["rss_anon"] for f in (at_n, at_10)]
    report.add(
        Row(
            SECTION,
            f"backend memory after a new connection's first request, {organizations:,} vs 10",
            memory_n,
            "MB",
            reference=memory_10,
            reference_name="at 10 organizations",
            details={
                "RssAnon MB at N / 10": [
                    None if None in one else round(statistics.median(one) / 2**20, 1) for one in rss
                ]
            },
        )
    )
    update_n, update_10 = (Timing(tuple(f["samples"]["user update"])) for f in (at_n, at_10))
    report.add(
        Row(
            SECTION,
            f"update of a user's row (no key changed), {organizations:,} vs 10, p50",
            update_n.p50,
            "ms",
            reference=update_10.p50,
            reference_name="at 10 organizations",
        )
    )
    added = triggers_n - triggers_10
    report.add(
        Row(
            SECTION,
            f"triggers on public.accounts_user, {organizations:,} organizations",
            triggers_n,
            "triggers",
            reference=triggers_10,
            reference_name="at 10 organizations",
            target="none added per organization",
            passed=added == 0,
            deterministic=True,
            details={
                "added": added,
                "why": "PostgreSQL enforces a foreign key with two triggers on the referenced "
                "table: tenant tables reference users by id without one (tenant_apps/people.py), "
                "so the users table (read by every request, updated at every login) stays as "
                "small to load and to update at any number of organizations",
            },
        )
    )


def _memory_rows(report, kept: dict, recycled: dict, *, quick: bool) -> None:
    from bench.core import Row

    served = kept["organizations"]
    growth = kept["final"]["contexts"] - kept["first"]["contexts"]
    per_org_kb = growth / 1024 / max(1, served - 1)
    details = {
        "after the first organization (MB): contexts / CacheMemoryContext / RssAnon": _mb(
            kept["first"]
        ),
        f"after {served:,} (MB)": _mb(kept["final"]),
        "growth per organization (kB): contexts / CacheMemoryContext / RssAnon": [
            round(_delta(kept, key) / 1024 / max(1, served - 1), 1)
            for key in ("contexts", "cache", "rss_anon")
        ],
        "requests per organization": kept["requests_per_org"],
    }
    report.add(
        Row(
            SECTION,
            f"backend memory after serving {served:,} organizations (one connection)",
            kept["final"]["contexts"] / 2**20,
            "MB",
            reference=kept["first"]["contexts"] / 2**20,
            reference_name="after the first organization",
            details=details,
        )
    )
    report.add(
        Row(
            SECTION,
            "backend memory growth per organization served",
            per_org_kb,
            "kB",
            details={"RssAnon kB per organization": details[list(details)[2]][2]},
        )
    )
    limit = recycled["recycle_after"]
    report.add(
        Row(
            SECTION,
            f"backend memory, peak, CONN_MAX_SCHEMAS={limit} ({served:,} organizations)",
            recycled["peak"]["contexts"] / 2**20,
            "MB",
            reference=kept["final"]["contexts"] / 2**20,
            reference_name="never recycled",
            details={
                "peak (MB): contexts / CacheMemoryContext / RssAnon": _mb(recycled["peak"]),
                "connections opened": recycled["connections"],
            },
        )
    )
    cost = recycled["reconnect"]
    report.add(
        Row(
            SECTION,
            "cost of one recycle: first request on a new connection minus a warm one, p50",
            cost["fresh_p50_ms"] - cost["warm_p50_ms"],
            "ms",
            details={
                "first request on a new connection p50 ms": round(cost["fresh_p50_ms"], 2),
                "same request, warm connection p50 ms": round(cost["warm_p50_ms"], 2),
                f"amortized per request at CONN_MAX_SCHEMAS={limit}, "
                f"{kept['requests_per_org']} requests per organization (ms)": round(
                    (cost["fresh_p50_ms"] - cost["warm_p50_ms"])
                    / (limit * kept["requests_per_org"]),
                    3,
                ),
            },
        )
    )
    report.add(
        Row(
            SECTION,
            f"pass over {served:,} organizations, mean per request, CONN_MAX_SCHEMAS={limit}",
            recycled["mean_request_ms"],
            "ms",
            reference=kept["mean_request_ms"],
            reference_name="never recycled",
        )
    )


def _mb(sample: dict) -> list[float | None]:
    return [
        None if sample.get(key) is None else round(sample[key] / 2**20, 1)
        for key in ("contexts", "cache", "rss_anon")
    ]


def _delta(figures: dict, key: str) -> float:
    first, final = figures["first"].get(key), figures["final"].get(key)
    return 0.0 if first is None or final is None else final - first


def _catalogue_rows(report, at_n: dict, at_10: dict) -> None:
    from bench.core import Row

    added = at_n["organizations"] - at_10["organizations"]
    rows_per_org = {
        table: round((at_n["rows"][table] - at_10["rows"][table]) / added, 1)
        for table in CATALOGUE_TABLES
    }
    catalogue_per_org = (at_n["catalogue_bytes"] - at_10["catalogue_bytes"]) / added
    disk_per_org = (at_n["database_bytes"] - at_10["database_bytes"]) / added
    report.add(
        Row(
            SECTION,
            "catalogue rows per organization: pg_class",
            at_n["pg_class_per_schema"]["p50"],
            "rows",
            details={
                "pg_class rows per organization schema (min/p50/max)": [
                    at_n["pg_class_per_schema"][key] for key in ("min", "p50", "max")
                ],
                "by relkind (p50 schema)": at_n["relkinds"],
                "catalogue rows added per organization, by table": rows_per_org,
            },
        )
    )
    report.add(
        Row(
            SECTION,
            "catalogue bytes per organization (pg_catalog tables with their indexes)",
            catalogue_per_org / 1024,
            "kB",
            details={
                f"catalogue at {at_n['organizations']:,} organizations (MB)": round(
                    at_n["catalogue_bytes"] / 2**20, 1
                ),
                f"catalogue at {at_10['organizations']:,} (MB)": round(
                    at_10["catalogue_bytes"] / 2**20, 1
                ),
                "largest catalogue tables at N (MB)": at_n["largest"],
            },
        )
    )
    report.add(
        Row(
            SECTION,
            "disk per organization (database size added per empty organization)",
            disk_per_org / 1024,
            "kB",
            details={
                f"database at {at_n['organizations']:,} organizations (MB)": round(
                    at_n["database_bytes"] / 2**20, 1
                ),
                "an empty organization's own relations (kB, p50)": at_n["schema_kb_p50"],
            },
        )
    )


# --- The databases, seen from the parent process ----------------------------------------------


def _database_name(suffix: str) -> str:
    from django.conf import settings

    name = f"{settings.DATABASES['default']['NAME']}_bench_many"
    return f"{name}_{suffix}" if suffix else name


def _admin(sql: str, params=None):
    """Run `sql` on the development database's server (CREATE/DROP DATABASE), in autocommit."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


def _exists(name: str) -> bool:
    return bool(_admin("SELECT 1 FROM pg_database WHERE datname = %s", [name]))


def _drop(name: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _copy(template: str, name: str) -> None:
    _drop(name)
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def _ensure_template(base: str) -> None:
    """The template database, built (under another name, renamed once complete) if missing
    or recorded with other migrations than those on disk."""
    from shared_apps.organizations.schema_pool.state import migration_state

    if _exists(base):
        with connect(base) as probe, probe.cursor() as cursor:
            cursor.execute("SELECT migration_key FROM organizations_schemarecording")
            keys = {row[0] for row in cursor.fetchall()}
        probe.close()
        if keys == {migration_state().key}:
            return
        print(f"  {base} was built with other migrations: building it again", flush=True)
    building = f"{base}_building"
    _drop(building)
    _admin(f'CREATE DATABASE "{building}"')
    started = time.perf_counter()
    _python(building, "build", "template")
    _drop(base)
    _admin(f'ALTER DATABASE "{building}" RENAME TO "{base}"')
    print(f"  built {base} in {time.perf_counter() - started:.0f} s", flush=True)


def _environment(database: str, nonce: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": database_url(database),
        "DATABASE_POOL_MODE": "session",
        "DJANGO_SETTINGS_MODULE": "saas.settings",
        # Onboarding queues no refill (the benchmark refills the pool itself).
        "CELERY_TASK_ALWAYS_EAGER": "true",
        # Dashboard entries of this run and database only (both copies have the same schemas).
        "CACHE_KEY_PREFIX": f"bench-many-{nonce}-{database}",
        "THROTTLE_ANON": UNREACHABLE_RATE,
        "THROTTLE_USER": UNREACHABLE_RATE,
        "THROTTLE_ORGANIZATION": UNREACHABLE_RATE,
        # Only the recycling pass sets it (saas/db/recycle.py).
        "CONN_MAX_SCHEMAS": "0",
        "LOG_LEVEL": "WARNING",
    }


def _python(database: str, nonce: str, *args: str) -> dict:
    """Run `python -m bench.many_orgs ARGS` against `database`; its JSON figures (progress
    goes to this process's stderr)."""
    command = [sys.executable, "-m", "bench.many_orgs", *args]
    started = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=BASE_DIR,
        env=_environment(database, nonce),
        stdout=subprocess.PIPE,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.many_orgs {' '.join(args)} on {database} failed")
    print(f"  {' '.join(args)} on {database}: {time.perf_counter() - started:.1f} s", flush=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _api_rounds(databases: list[str], nonce: str, *, rounds: int, action: str = "api") -> dict:
    """Rounds of `action` (`api`: the five requests on many-main; `connect`: its first request
    on a new connection) in each database, one process per database kept waiting between
    rounds; the databases take turns, in alternating order (ABBA), so a change of load weighs
    on all alike. API_WARMUP rounds first, untimed. Returns, per database, what the process
    said first ({"organizations": n, ...}) and "samples": {figure: [value per round]}."""
    processes = {}
    try:
        for database in databases:
            processes[database] = subprocess.Popen(
                [sys.executable, "-m", "bench.many_orgs", action],
                cwd=BASE_DIR,
                env=_environment(database, nonce),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        figures = {
            database: {**_reply(process), "samples": {}} for database, process in processes.items()
        }
        for number in range(API_WARMUP + rounds):
            order = databases if number % 2 == 0 else databases[::-1]
            for database in order:
                process = processes[database]
                process.stdin.write("round\n")
                process.stdin.flush()
                times = _reply(process)
                if number >= API_WARMUP:
                    for name, value in times.items():
                        figures[database]["samples"].setdefault(name, []).append(value)
    finally:
        for process in processes.values():
            process.stdin.close()
            if process.wait(timeout=60) != 0:
                raise RuntimeError(f"bench.many_orgs {action} failed ({process.returncode})")
    return figures


def _reply(process) -> dict:
    line = process.stdout.readline()
    if not line:
        raise RuntimeError("bench.many_orgs stopped (see its traceback above)")
    return json.loads(line)


def _migrate_noop(database: str, *, runs: int) -> dict:
    """Wall seconds of `manage.py migrate_schemas` (the project's default executor) with
    nothing pending, Python's start-up included; median of `runs`."""
    seconds, output = [], ""
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "manage.py", "migrate_schemas", "--noinput"],
            cwd=BASE_DIR,
            env=_environment(database, "migrate"),
            capture_output=True,
            text=True,
        )
        seconds.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise RuntimeError(f"migrate_schemas on {database} failed:\n{done.stderr[-3000:]}")
        output = done.stdout
    summary = " / ".join(
        line.strip() for line in output.splitlines() if line.startswith(("Tenant schemas", "Apply"))
    )
    return {
        "p50_s": statistics.median(seconds),
        "runs": [round(s, 2) for s in seconds],
        "summary": summary,
    }


def _pg_dump(database: str) -> dict:
    """`pg_dump --schema-only` of the whole database (a logical backup's first step): wall
    seconds and its exit status. It holds an ACCESS SHARE lock on every table it dumps until
    it ends, in a lock table PostgreSQL sizes at max_locks_per_transaction x (max_connections
    + max_prepared_transactions)."""
    with connect(database) as probe, probe.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_class WHERE relkind IN ('r', 'p')"
            " AND relnamespace <> 'pg_catalog'::regnamespace"
            " AND relnamespace <> 'information_schema'::regnamespace"
        )
        tables = cursor.fetchone()[0]
        cursor.execute(
            "SELECT current_setting('max_locks_per_transaction')::int * ("
            "current_setting('max_connections')::int"
            " + current_setting('max_prepared_transactions')::int)"
        )
        lock_slots = cursor.fetchone()[0]
    probe.close()
    started = time.perf_counter()
    done = subprocess.run(
        ["pg_dump", "--schema-only", "--file", os.devnull, "--dbname", database_url(database)],
        capture_output=True,
        text=True,
    )
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    return {
        "seconds": time.perf_counter() - started,
        "exit_status": done.returncode,
        "error": " ".join(errors[-2:]),
        "tables": tables,
        "lock_slots": lock_slots,
    }


# --- Inside the subprocesses (against one bench database) -------------------------------------


def _progress(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


def _template() -> dict:
    """Migrate, then onboard the 10 organizations the template holds; drop the spares."""
    from django.core.management import call_command

    from shared_apps.accounts.services import user_create
    from shared_apps.organizations.schema_pool.pool import pool_refill
    from shared_apps.organizations.services import organization_create
    from tenant_apps.tasks.seeding import organization_seed

    call_command("migrate_schemas", interactive=False, verbosity=0)
    pool_refill(size=BASE_ORGANIZATIONS)
    admin = user_create(email=ADMIN_EMAIL, password=None, email_verified=True)
    organization_seed(slug=MAIN_SLUG, tasks=MAIN_TASKS, projects=10, users=20, seed=4, admin=admin)
    for number in range(1, BASE_ORGANIZATIONS):
        slug = SLUG.format(number=number)
        user = user_create(email=USER_EMAIL.format(slug=slug), password=None)
        organization_create(name=f"Bench {slug}", slug=slug, admin=user)
    pool_refill(size=0)
    return {"organizations": BASE_ORGANIZATIONS}


def _organization_count() -> int:
    from shared_apps.organizations.models import Organization

    return Organization.objects.exclude(schema_name="public").count()


def _provision(target: int) -> dict:
    """Onboard `many-NNNNN` organizations until the database holds `target`: per batch, a
    refill builds the spares, then organization_create claims one per organization.

    Each batch starts on a new connection, its backend's memory sampled at the start, after
    the refill and at the end: building spares and claiming them grow the backend's caches
    too (what a long-lived refilling worker would keep)."""
    from django.db import connection

    from shared_apps.accounts.services import user_create
    from shared_apps.organizations.schema_pool.pool import pool_refill
    from shared_apps.organizations.services import organization_create

    have = _organization_count()
    numbers = list(range(have, target))  # many-main and many-00001.. are the first 10
    claim_ms, refill_ms, users_s = [], [], 0.0
    refill_kb, claim_kb = [], []  # backend growth per spare built / per organization claimed
    started = time.perf_counter()
    for first in range(0, len(numbers), BATCH):
        batch = [SLUG.format(number=number) for number in numbers[first : first + BATCH]]
        connection.close()
        at_start = _memory_sample()
        refill = pool_refill(size=len(batch))
        refill_ms += [refill.seconds * 1000 / len(refill.created)] * len(refill.created)
        after_refill = _memory_sample()
        refill_kb.append((after_refill["contexts"] - at_start["contexts"]) / 1024 / len(batch))
        for slug in batch:
            users_started = time.perf_counter()
            user = user_create(email=USER_EMAIL.format(slug=slug), password=None)
            claim_started = time.perf_counter()
            users_s += claim_started - users_started
            organization_create(name=f"Bench {slug}", slug=slug, admin=user)
            claim_ms.append((time.perf_counter() - claim_started) * 1000)
        at_end = _memory_sample()
        claim_kb.append((at_end["contexts"] - after_refill["contexts"]) / 1024 / len(batch))
        done = have + first + len(batch)
        if done // 1000 != (done - len(batch)) // 1000 or first + BATCH >= len(numbers):
            _progress(
                f"{done:,} organizations; last batch: claim p50 "
                f"{statistics.median(claim_ms[-len(batch) :]):.0f} ms, refill "
                f"{refill.seconds * 1000 / max(1, len(refill.created)):.0f} ms per spare"
            )
    return {
        "organizations": _organization_count(),
        "claim_ms": claim_ms,
        "refill_ms": refill_ms,
        "users_s": users_s,
        "wall_s": time.perf_counter() - started,
        "refill_kb": statistics.median(refill_kb),
        "claim_kb": statistics.median(claim_kb),
    }


def _token(user) -> str:
    from knox.models import AuthToken

    return AuthToken.objects.create(user=user)[1]


def _api_serve() -> None:
    """Serve rounds of the five requests on many-main: print the organizations' count, then
    for each line `round` read on stdin make each request once, in turn, and print their
    times (ms) as one JSON line; stop at end of input."""
    from django.db import connection
    from django_tenants.utils import tenant_context
    from rest_framework.test import APIClient

    from shared_apps.accounts.models import User
    from shared_apps.organizations.models import Organization
    from tenant_apps.tasks.cache import dashboard_forget
    from tenant_apps.tasks.models import Task

    organization = Organization.objects.get(slug=MAIN_SLUG)
    client = APIClient(
        HTTP_HOST=organization.domain,
        HTTP_AUTHORIZATION=f"Bearer {_token(User.objects.get(email=ADMIN_EMAIL))}",
    )
    with tenant_context(organization):
        task_id = Task.objects.order_by("id").values_list("id", flat=True).first()

    def forget():
        with tenant_context(organization):
            dashboard_forget()

    def get(path: str, x_cache: str | None = None):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.content[:300])
        assert x_cache is None or response["X-Cache"] == x_cache, (path, response["X-Cache"])

    requests = {
        "task list, first page": (lambda: get("/api/tasks/"), None),
        "task detail": (lambda: get(f"/api/tasks/{task_id}/"), None),
        # The miss stores the entry the hit then reads.
        "dashboard, uncached": (lambda: get("/api/dashboard/", "MISS"), forget),
        "dashboard, cached": (lambda: get("/api/dashboard/", "HIT"), None),
        "activity list": (lambda: get("/api/activity/"), None),
    }
    print(json.dumps({"organizations": _organization_count()}), flush=True)
    for line in sys.stdin:
        if line.strip() != "round":
            break
        times = {}
        for name, (request, prepare) in requests.items():
            if prepare is not None:
                prepare()
            started = time.perf_counter()
            request()
            times[name] = (time.perf_counter() - started) * 1000
        print(json.dumps(times), flush=True)
    connection.set_schema_to_public()


def _connect_serve() -> None:
    """Like _api_serve, for a new connection: print the organizations' count and the
    triggers on the users table, then for each `round` on stdin close the connection, make
    the task list request (the new connection's first), sample the backend's memory, and
    time an update of the user's row that changes no key (every foreign key to the table
    has triggers on it), printing one JSON line."""
    from django.db import connection
    from rest_framework.test import APIClient

    from shared_apps.accounts.models import User
    from shared_apps.organizations.models import Organization

    organization = Organization.objects.get(slug=MAIN_SLUG)
    user = User.objects.get(email=ADMIN_EMAIL)
    client = APIClient(HTTP_HOST=organization.domain, HTTP_AUTHORIZATION=f"Bearer {_token(user)}")
    table = User._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass", [table])
        triggers = cursor.fetchone()[0]
    print(
        json.dumps({"organizations": _organization_count(), "user_triggers": triggers}),
        flush=True,
    )
    for line in sys.stdin:
        if line.strip() != "round":
            break
        connection.close()
        started = time.perf_counter()
        response = client.get("/api/tasks/")
        first_ms = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.status_code
        memory = _memory_sample()
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(
                f"UPDATE {connection.ops.quote_name(table)} SET full_name = full_name"
                " WHERE id = %s",
                [user.pk],
            )
            update_ms = (time.perf_counter() - started) * 1000
        figures = {"first request": first_ms, "contexts": memory["contexts"]}
        figures |= {"rss_anon": memory["rss_anon"], "user update": update_ms}
        print(json.dumps(figures), flush=True)
    connection.set_schema_to_public()


def _memory_orgs(count: int):
    from shared_apps.organizations.models import Organization

    return list(Organization.objects.filter(slug__startswith="many-0").order_by("slug")[:count])


def _prepare(count: int) -> None:
    """Give each organization of the memory pass a project and two tasks (one assigned to
    its first ADMIN), if it has none yet, through the services."""
    from django_tenants.utils import tenant_context

    from shared_apps.organizations.models import Membership, Role
    from tenant_apps.projects.services import project_create
    from tenant_apps.tasks.models import Task
    from tenant_apps.tasks.services import task_create

    for organization in _memory_orgs(count):
        admin = Membership.objects.get(organization=organization, role=Role.ADMIN).user
        with tenant_context(organization):
            if Task.objects.exists():
                continue
            project = project_create(name="Bench project", created_by=admin)
            for number, assignees in ((1, [admin.pk]), (2, [])):
                task_create(
                    organization=organization,
                    project=project,
                    title=f"Bench task {number}",
                    created_by=admin,
                    assignee_ids=assignees,
                )


# The memory contexts of the backend serving this connection: all of them, and
# CacheMemoryContext with its descendants (relcache and catcache entries, index info). Before
# PostgreSQL 17 the view has no `path`: descendants follow their parent in the function's
# depth-first order, at a deeper level.
_MEMORY_BY_ORDER = """
WITH contexts AS (
    SELECT name, level, total_bytes, ordinality AS n
    FROM pg_get_backend_memory_contexts() WITH ORDINALITY
), cache AS (
    SELECT n, level FROM contexts WHERE name = 'CacheMemoryContext' ORDER BY n LIMIT 1
), after AS (
    SELECT min(c.n) AS stop FROM contexts c, cache WHERE c.n > cache.n AND c.level <= cache.level
)
SELECT pg_backend_pid(),
       (SELECT sum(total_bytes) FROM contexts),
       (SELECT sum(c.total_bytes) FROM contexts c, cache, after
        WHERE c.n >= cache.n AND (after.stop IS NULL OR c.n < after.stop))
"""
_MEMORY_BY_PATH = """
WITH contexts AS (SELECT name, path, total_bytes FROM pg_backend_memory_contexts),
cache AS (SELECT path FROM contexts WHERE name = 'CacheMemoryContext' LIMIT 1)
SELECT pg_backend_pid(),
       (SELECT sum(total_bytes) FROM contexts),
       (SELECT sum(c.total_bytes) FROM contexts c, cache
        WHERE c.path[1:array_length(cache.path, 1)] = cache.path)
"""


def _memory_sample(wrapper=None) -> dict:
    """The backend of `wrapper` (a DatabaseWrapper; Django's default connection if None):
    memory contexts (bytes), and RssAnon from /proc (bytes; None when PostgreSQL runs
    elsewhere)."""
    from django.db import connection

    wrapper = wrapper or connection
    query = _MEMORY_BY_PATH if wrapper.pg_version >= 170000 else _MEMORY_BY_ORDER
    with wrapper.cursor() as cursor:
        cursor.execute(query)
        pid, contexts, cache = cursor.fetchone()
    rss_anon = None
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("RssAnon:"):
                    rss_anon = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {"pid": pid, "contexts": int(contexts), "cache": int(cache), "rss_anon": rss_anon}


def _memory(count: int, recycle_after: int) -> dict:
    """One pass of 4 requests in each of `count` organizations on one connection (recycled
    after `recycle_after` organizations, 0: never), memory sampled before each
    organization while the connection is open."""
    from django.db import connection
    from django.test import override_settings
    from django_tenants.utils import tenant_context
    from rest_framework.test import APIClient

    from bench.core import timed
    from shared_apps.organizations.models import Membership, Role
    from tenant_apps.tasks.models import Task

    _prepare(count)
    subjects = []
    for organization in _memory_orgs(count):
        admin = Membership.objects.get(organization=organization, role=Role.ADMIN).user
        with tenant_context(organization):
            task_id = Task.objects.order_by("id").values_list("id", flat=True).first()
        client = APIClient(
            HTTP_HOST=organization.domain, HTTP_AUTHORIZATION=f"Bearer {_token(admin)}"
        )
        paths = ("/api/tasks/", f"/api/tasks/{task_id}/", "/api/dashboard/", "/api/activity/")
        subjects.append((client, paths))

    def serve(client, paths):
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)

    samples = []
    with override_settings(CONN_MAX_SCHEMAS=recycle_after):
        connection.close()
        started = time.perf_counter()
        for client, paths in subjects:
            if connection.connection is not None:
                samples.append(_memory_sample())
            serve(client, paths)
        elapsed = time.perf_counter() - started
        if connection.connection is not None:
            samples.append(_memory_sample())
        figures = {
            "organizations": len(subjects),
            "requests_per_org": len(subjects[0][1]),
            "recycle_after": recycle_after,
            "mean_request_ms": elapsed * 1000 / (len(subjects) * len(subjects[0][1])),
            "first": samples[0],
            "final": samples[-1],
            "peak": max(samples, key=lambda sample: sample["contexts"]),
            "connections": len({sample["pid"] for sample in samples}),
        }
        if recycle_after:
            # What one recycle costs the request after it: a new backend, cold caches.
            client, paths = subjects[0]
            fresh = timed(lambda: client.get(paths[0]), runs=15, prepare=connection.close)
            warm = timed(lambda: client.get(paths[0]), runs=15)
            figures["reconnect"] = {"fresh_p50_ms": fresh.p50, "warm_p50_ms": warm.p50}
    return figures


def _catalogue() -> dict:
    """Catalogue rows and bytes in this database, and per organization schema."""
    from django.db import connection

    from shared_apps.organizations.models import Organization

    with connection.cursor() as cursor:
        rows = {}
        for table in CATALOGUE_TABLES:
            cursor.execute(f"SELECT count(*) FROM pg_catalog.{table}")
            rows[table] = cursor.fetchone()[0]
        cursor.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
            " WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind = 'r'"
            " AND NOT c.relisshared ORDER BY 2 DESC"
        )
        sizes = cursor.fetchall()
        cursor.execute("SELECT pg_database_size(current_database())")
        database_bytes = cursor.fetchone()[0]
        schemas = list(
            Organization.objects.exclude(schema_name="public").values_list("schema_name", flat=True)
        )
        cursor.execute(
            "SELECT n.nspname, count(*), (sum(pg_total_relation_size(c.oid))"
            " FILTER (WHERE c.relkind IN ('r', 'S', 'm')))::bigint"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = ANY(%s) GROUP BY n.nspname",
            [schemas],
        )
        per_schema = cursor.fetchall()
        cursor.execute(
            "SELECT c.relkind, count(*) FROM pg_class c"
            " WHERE c.relnamespace = to_regnamespace(%s) GROUP BY 1 ORDER BY 1",
            [schemas[-1]],
        )
        relkinds = dict(cursor.fetchall())
    counts = sorted(row[1] for row in per_schema)
    return {
        "organizations": len(schemas),
        "rows": rows,
        "catalogue_bytes": sum(size for _, size in sizes),
        "largest": {name: round(size / 2**20, 1) for name, size in sizes[:6]},
        "database_bytes": database_bytes,
        "pg_class_per_schema": {
            "min": counts[0],
            "p50": statistics.median(counts),
            "max": counts[-1],
        },
        "relkinds": relkinds,
        "schema_kb_p50": round(statistics.median(row[2] or 0 for row in per_schema) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("template")
    sub.add_parser("api")
    sub.add_parser("connect")
    sub.add_parser("provision").add_argument("target", type=int)
    sub.add_parser("catalogue")
    memory = sub.add_parser("memory")
    memory.add_argument("count", type=int)
    memory.add_argument("recycle_after", type=int)
    args = parser.parse_args()

    import django

    django.setup()
    from django.test import override_settings

    # No query log (DEBUG) on every statement: production does not keep one either.
    with override_settings(DEBUG=False):
        if args.action == "template":
            figures = _template()
        elif args.action == "api":
            _api_serve()
            return
        elif args.action == "connect":
            _connect_serve()
            return
        elif args.action == "provision":
            figures = _provision(args.target)
        elif args.action == "catalogue":
            figures = _catalogue()
        else:
            figures = _memory(args.count, args.recycle_after)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
