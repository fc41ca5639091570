"""`make load`: the load and soak run on a database of its own (default `saas_load`, next to
DATABASE_URL's, created and migrated if needed), over organizations seeded once with
seed_tasks. Prints the summary table, writes bench/results/load.json, exits 1 if a promise
broke (a 5xx, another organization's data, connections or memory beyond their bounds).

Usage: python -m bench.load [--seconds 300] [--users 50] [--orgs 10] [--tasks-per-org 2000]
"""

import argparse
import json
import os
import sys
from pathlib import Path

import environ
import psycopg2
from psycopg2 import sql

RESULTS = Path(__file__).resolve().parent.parent / "results" / "load.json"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--seconds", type=int, default=300, help="length of the run (300)")
    parser.add_argument("--users", type=int, default=50, help="locust users (50)")
    parser.add_argument("--orgs", type=int, default=10, help="organizations (10)")
    parser.add_argument("--tasks-per-org", type=int, default=2000, help="seeded tasks (2000)")
    parser.add_argument("--members", type=int, default=5, help="load members per org (5)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (4)")
    parser.add_argument("--warmup", type=float, default=60, help="seconds before the baseline")
    parser.add_argument("--database", default="saas_load", help="database name (saas_load)")
    parser.add_argument("--prefix", default="load", help="organization slug prefix (load)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="JSON output file")
    return parser.parse_args()


def _ensure_database(name: str) -> dict:
    """DATABASE_URL's server with database `name` (created when missing), as libpq keywords."""
    from bench.load.run import libpq_keywords

    server = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    connection = psycopg2.connect(**libpq_keywords(server))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                print(f"Creating database {name}", flush=True)
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        connection.close()
    return libpq_keywords({**server, "NAME": name})


def main() -> int:
    args = _arguments()
    from bench.load.run import Settings, database_url, run

    database = _ensure_database(args.database)
    # This process migrates and seeds the load database, never DATABASE_URL's own.
    os.environ["DATABASE_URL"] = database_url(database)
    # Seeding onboards organizations: without a pool no refill job goes to any broker.
    os.environ["SCHEMA_POOL_SIZE"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench.load.world import world_as_json, world_build

    print(f"Migrating {args.database}", flush=True)
    call_command("migrate_schemas", interactive=False, verbosity=0)
    print(
        f"Organizations {args.prefix}-0001..: {args.orgs} x {args.tasks_per_org} tasks "
        "(seed_tasks, only those missing)",
        flush=True,
    )
    world = world_build(
        prefix=args.prefix,
        organizations=args.orgs,
        tasks_per_org=args.tasks_per_org,
        members=args.members,
    )
    connection.close()
    settings = Settings(
        users=args.users,
        seconds=args.seconds,
        workers=args.workers,
        threads=args.threads,
        warmup=args.warmup,
    )
    print(
        f"Load: {settings.users} users, {settings.seconds} s, gunicorn {settings.workers} "
        f"workers x {settings.threads} threads on 127.0.0.1",
        flush=True,
    )
    result = run(database=database, world=world_as_json(world), settings=settings)
    print()
    print(result.table())
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(result.as_json(), indent=2) + "\n")
    print(f"\nWritten to {args.results}")
    failures = result.failures()
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print("PASSED: every promise held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
