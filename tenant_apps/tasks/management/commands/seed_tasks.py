"""`manage.py seed_tasks`: load realistic tasks fast (COPY) into one organization or many."""

import argparse
import json
import resource
import statistics
import sys
import time
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from tenant_apps.tasks.seeding import (
    MAINTAIN_MIN_ROWS,
    LoadError,
    SeedResult,
    organization_seed,
    organization_slugs,
    organizations_seed,
)

DEFAULT_PROJECTS = 10
DEFAULT_USERS = 20
DEFAULT_TASKS_PER_ORG = 1_000
DEFAULT_PREFIX = "seed"


def whole_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{k}: {m}" for k, msgs in exc.message_dict.items() for m in msgs)
    return "; ".join(exc.messages)


class Command(BaseCommand):
    help = (
        "Load generated tasks (seeded, realistic) with PostgreSQL COPY: into one organization "
        "(--org, created if missing, with --users members and --projects projects) or into "
        "--orgs new organizations named --prefix-0001, ... Same --seed, same day: same rows."
    )

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--org", metavar="SLUG", help="one organization (created if missing)")
        target.add_argument(
            "--orgs", type=whole_number, metavar="N", help="N organizations PREFIX-0001..."
        )
        parser.add_argument("--name", help="display name of a new --org (default: from slug)")
        parser.add_argument("--tasks", type=whole_number, help="tasks to add to --org")
        parser.add_argument(
            "--tasks-per-org",
            type=whole_number,
            help=f"tasks for each of --orgs (default {DEFAULT_TASKS_PER_ORG})",
        )
        parser.add_argument("--prefix", help=f"slug prefix of --orgs (default {DEFAULT_PREFIX!r})")
        parser.add_argument(
            "--projects",
            type=whole_number,
            default=DEFAULT_PROJECTS,
            help=f"projects per organization (default {DEFAULT_PROJECTS})",
        )
        parser.add_argument(
            "--users",
            type=whole_number,
            default=DEFAULT_USERS,
            help=f"seeded members per organization (default {DEFAULT_USERS})",
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")
        parser.add_argument(
            "--json", action="store_true", help="print the summary as one JSON object"
        )

    def handle(self, *args, **options):
        started = time.perf_counter()
        self._progress = not options["no_progress"]
        try:
            if options["org"] is not None:
                summary = self._one(options)
            else:
                summary = self._many(options)
        except ValidationError as exc:
            raise CommandError(_messages(exc)) from exc
        except LoadError as exc:
            raise CommandError(str(exc)) from exc
        summary["seconds"] = round(time.perf_counter() - started, 3)
        summary["peak_rss_mb"] = round(peak_rss_mb(), 1)
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            self.stdout.write(
                f"Total {summary['seconds']:.1f} s; peak RSS {summary['peak_rss_mb']:.0f} MB"
            )

    # --- one organization ------------------------------------------------------------------

    def _one(self, options) -> dict:
        for option in ("tasks_per_org", "prefix"):
            if options[option] is not None:
                flag = "--" + option.replace("_", "-")
                raise CommandError(f"{flag} goes with --orgs, not --org.")
        if options["tasks"] is None:
            raise CommandError("Say how many tasks to add: --tasks N.")
        result = organization_seed(
            slug=options["org"],
            name=options["name"],
            tasks=options["tasks"],
            projects=options["projects"],
            users=options["users"],
            seed=options["seed"],
            progress=self._bar,
        )
        if not options["json"]:
            self._describe(result)
        return {"mode": "org", **_summary(result)}

    def _describe(self, result: SeedResult) -> None:
        organization, load = result.organization, result.load
        state = "created" if result.created else "existing"
        self.stdout.write(
            f"{organization.slug} (schema {organization.schema_name}, {state}): "
            f"{result.members} members ({result.users_created} new users), "
            f"{result.projects} seeded projects"
        )
        ids = f" (ids {load.first_id}..{load.first_id + load.tasks - 1})" if load.tasks else ""
        self.stdout.write(f"  {load.tasks:,} tasks{ids}, {load.assignments:,} assignments")
        if load.rebuilt_indexes:
            how = f"{len(load.rebuilt_indexes)} secondary indexes dropped, built after the load"
        else:
            how = f"indexes kept (table had {load.existing:,} rows)"
        frozen = "; rows written frozen (COPY FREEZE)" if load.frozen else ""
        self.stdout.write(f"  {how}{frozen}; foreign keys {load.foreign_key_checks}")
        self.stdout.write(
            "  " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in _stages(result).items())
        )
        if not load.maintained:
            self.stdout.write(
                f"  (under {MAINTAIN_MIN_ROWS:,} tasks: ANALYZE and VACUUM left to autovacuum)"
            )
        elif not result.vacuumed:
            self.stdout.write("  (inside a transaction: VACUUM skipped)")

    # --- many organizations ----------------------------------------------------------------

    def _many(self, options) -> dict:
        if options["tasks"] is not None:
            raise CommandError("--tasks goes with --org; use --tasks-per-org with --orgs.")
        if options["name"] is not None:
            raise CommandError("--name goes with --org.")
        count = options["orgs"]
        if count < 1:
            raise CommandError("--orgs must be at least 1.")
        prefix = options["prefix"] if options["prefix"] is not None else DEFAULT_PREFIX
        try:
            organization_slugs(prefix, count)
        except ValidationError as exc:
            raise CommandError(
                f"--prefix {prefix!r} gives invalid slugs: {_messages(exc)}"
            ) from exc
        per_org = options["tasks_per_org"]
        per_org = DEFAULT_TASKS_PER_ORG if per_org is None else per_org
        times: list[float] = []
        stages: dict[str, list[float]] = {}
        tasks = assignments = created = 0
        with tqdm(
            total=count,
            desc="organizations",
            unit=" org",
            disable=self._disabled(),
            file=sys.stderr,
        ) as bar:

            def done(result: SeedResult) -> None:
                nonlocal tasks, assignments, created
                times.append(result.total_seconds)
                for name, seconds in _stages(result).items():
                    stages.setdefault(name, []).append(seconds)
                tasks += result.load.tasks
                assignments += result.load.assignments
                created += result.created
                bar.update(1)

            organizations_seed(
                prefix=prefix,
                count=count,
                tasks_per_org=per_org,
                projects=options["projects"],
                users=options["users"],
                seed=options["seed"],
                on_organization=done,
            )
        summary = {
            "mode": "orgs",
            "organizations": count,
            "created": created,
            "tasks": tasks,
            "assignments": assignments,
            "median_seconds_per_org": round(statistics.median(times), 4),
            "median_stage_seconds": {
                name: round(statistics.median(values), 4) for name, values in stages.items()
            },
        }
        if not options["json"]:
            self.stdout.write(
                f"{count} organizations {prefix}-... ({created} created): {tasks:,} tasks, "
                f"{assignments:,} assignments; median {summary['median_seconds_per_org'] * 1000:.0f}"
                " ms per organization"
            )
        return summary

    # --- progress ----------------------------------------------------------------------------

    def _disabled(self) -> bool | None:
        # None: tqdm decides, i.e. bars only on a terminal.
        return True if not self._progress else None

    @contextmanager
    def _bar(self, description: str, total: int):
        unit = " index" if description == "indexes" else " task"
        with tqdm(
            total=total,
            desc=description,
            unit=unit,
            unit_scale=unit == " task",
            disable=self._disabled(),
            file=sys.stderr,
            mininterval=0.5,
        ) as bar:
            yield bar.update


def _summary(result: SeedResult) -> dict:
    load = result.load
    return {
        "organization": result.organization.slug,
        "schema": result.organization.schema_name,
        "created": result.created,
        "members": result.members,
        "users_created": result.users_created,
        "projects": result.projects,
        "tasks": load.tasks,
        "assignments": load.assignments,
        "first_id": load.first_id,
        "rebuilt_indexes": load.rebuilt_indexes,
        "frozen": load.frozen,
        "foreign_key_checks": load.foreign_key_checks,
        "maintained": load.maintained,
        "vacuumed": result.vacuumed,
        "stages": {name: round(seconds, 3) for name, seconds in _stages(result).items()},
    }


def _stages(result: SeedResult) -> dict[str, float]:
    """Seconds of each stage, in order: onboarding and members, projects, the load's own
    stages (in place of "load", their sum), then vacuum."""
    stages: dict[str, float] = {}
    for name, seconds in result.seconds.items():
        if name == "load":
            stages.update(result.load.seconds)
        else:
            stages[name] = seconds
    return stages
