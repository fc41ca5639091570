"""`make bench` / `make bench-quick`: every scenario in one run, one table, bench/results/*.json.

Usage: DJANGO_SETTINGS_MODULE=saas.settings python -m bench.run [--quick] [--only NAME ...]
Each module in SCENARIOS has `run(report, *, quick)`; it adds rows (bench.core.Row) to the report.
Exits 1 if a row fails: deterministic rows (scans, query counts) always, timing rows only in a
full run, since timings on a shared machine are noisy.
"""

import argparse
import importlib
import sys
import time

import django

django.setup()

from bench.core import Report  # noqa: E402

# Run order matters little; each module builds (once) and reuses the data it needs.
SCENARIOS = [
    "bench.task_list",
    "bench.rowlevel",
    "bench.dashboard",
    "bench.activity_cost",
    "bench.export",
    "bench.onboarding",
    "bench.migrations",
    "bench.seed",
    "bench.throughput",
    "bench.many_orgs",
]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small data, for CI (~3 minutes)")
    parser.add_argument("--only", nargs="*", default=None, help="module names, e.g. dashboard")
    args = parser.parse_args()
    report = Report(quick=args.quick)
    started = time.perf_counter()
    for name in SCENARIOS:
        if args.only and name.rsplit(".", 1)[-1] not in args.only:
            continue
        print(f"== {name}", flush=True)
        importlib.import_module(name).run(report, quick=args.quick)
    print()
    print(report.table())
    for note in report.notes:
        print(f"note: {note}")
    path = report.write()
    failed = report.failures()
    print(f"\n{len(report.rows)} rows in {time.perf_counter() - started:.0f} s; written to {path}")
    if failed:
        print("FAILED: " + "; ".join(f"{row.section} | {row.scenario}" for row in failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
