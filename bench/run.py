"""`make bench` / `make bench-quick`: every scenario in one run, one table, bench/results/*.json.

Usage: DJANGO_SETTINGS_MODULE=saas.settings python -m bench.run [--quick] [--only NAME ...]
Each module in SCENARIOS has `run(report, *, quick)`; it adds rows (bench.core.Row) to the report.
Each module runs in a process of its own, as a freshly started web worker would serve: what an
earlier module left in memory (a million rows read, another database's connections) weighs on
no later figure. Exits 1 if a module fails or a row fails: deterministic rows (scans, query
counts) always, timing rows only in a full run, since timings on a shared machine are noisy.

`--only` reruns some modules and keeps the other modules' rows of the results file (each row
names its module, each module when it ran), so one slow module can be measured again alone.
"""

import argparse
import importlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def module_run(name: str, *, quick: bool, rows: Path) -> int:
    """In the child process: one module's rows, written to `rows`."""
    import django

    django.setup()
    from bench.core import Report

    report = Report(quick=quick)
    started = time.perf_counter()
    importlib.import_module(name).run(report, quick=quick)
    report.module_done(name, time.perf_counter() - started)
    report.write(rows)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small data, for CI (~3 minutes)")
    parser.add_argument("--only", nargs="*", default=None, help="module names, e.g. dashboard")
    parser.add_argument("--module", help=argparse.SUPPRESS)  # the child's one module
    parser.add_argument("--rows", type=Path, help=argparse.SUPPRESS)  # where the child writes
    args = parser.parse_args()
    if args.module:
        return module_run(args.module, quick=args.quick, rows=args.rows)

    import django

    django.setup()
    from bench.core import Report

    selected = [n for n in SCENARIOS if not args.only or n.rsplit(".", 1)[-1] in args.only]
    unknown = set(args.only or ()) - {n.rsplit(".", 1)[-1] for n in SCENARIOS}
    if unknown:
        parser.error(f"no such module: {', '.join(sorted(unknown))}")
    report = Report(quick=args.quick)
    if args.only:
        report.keep_others(selected)  # the other modules' rows of the last results file
    started = time.perf_counter()
    crashed = []
    for name in selected:
        print(f"== {name}", flush=True)
        with tempfile.TemporaryDirectory() as directory:
            rows = Path(directory) / "rows.json"
            command = [sys.executable, "-m", "bench.run", "--module", name, "--rows", str(rows)]
            if subprocess.run(command + (["--quick"] if args.quick else [])).returncode:
                crashed.append(name)
                continue
            report.absorb(rows)
    position = {name: index for index, name in enumerate(SCENARIOS)}
    report.rows.sort(key=lambda row: position.get(row.module, len(SCENARIOS)))  # stable
    print()
    print(report.table())
    for note in report.notes:
        print(f"note: {note}")
    path = report.write()
    failed = report.failures()
    print(f"\n{len(report.rows)} rows in {time.perf_counter() - started:.0f} s; written to {path}")
    if crashed:
        print("FAILED (module crashed, see its traceback above): " + ", ".join(crashed))
    if failed:
        print("FAILED: " + "; ".join(f"{row.section} | {row.scenario}" for row in failed))
    return 1 if failed or crashed else 0


if __name__ == "__main__":
    sys.exit(main())
