"""What the activity log costs a write: a task update through the service with its `updated`
entry and the change-counter bump (one statement, in the update's transaction), against the
same update without an entry.

"Without an entry" is measured two ways: the same service call with the entry's write
switched off (same locks, validation and save: the target's denominator), and the bare model
save path (row lock and `save(update_fields=...)` in a transaction) for reference.

Usage: DJANGO_SETTINGS_MODULE=saas.settings python -m bench.run --only activity_cost [--quick]
(`python -m bench.activity_cost [--quick]` runs this module alone.)
Creates (once) an organization `bench-activity` with one task; each of 7 rounds (3 quick)
times 300 status changes (40 quick) per variant, interleaved update by update (so load on the
machine hits all alike), and each row is the median over rounds of each round's median. Target: with the
entry at most 1.3x the same update without one. Deterministic rows pin the statements each
update sends (the entry and the change counter's bump: one statement, nothing per field).
"""

import argparse
import itertools
import statistics
import sys
import time

import django

django.setup()

from django.db import connection, reset_queries, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402

from bench.core import Report, Row  # noqa: E402
from shared_apps.accounts.models import User  # noqa: E402
from shared_apps.accounts.services import user_create  # noqa: E402
from shared_apps.organizations.models import Organization  # noqa: E402
from shared_apps.organizations.services import organization_create  # noqa: E402
from tenant_apps.projects.models import Project  # noqa: E402
from tenant_apps.projects.services import project_create  # noqa: E402
from tenant_apps.tasks import services as task_services  # noqa: E402
from tenant_apps.tasks.models import Status, Task  # noqa: E402
from tenant_apps.tasks.services import task_create, task_update  # noqa: E402

SLUG = "bench-activity"
EMAIL = "bench@bench.example.com"
SECTION = "activity log"
TARGET = 1.3
# Statements per update, as counted today (CaptureQueriesContext): the entry and the change
# counter's bump are one statement on top of the update's own.
STATEMENT_PINS = {"service, no entry": 4, "service + entry": 5}
STATUSES = [Status.IN_PROGRESS, Status.NEW]


def ensure_data() -> tuple[Organization, User, Task]:
    # Another module's API requests may have left the connection on a tenant's schema;
    # onboarding needs public.
    connection.set_schema_to_public()
    user = User.objects.filter(email=EMAIL).first() or user_create(email=EMAIL, password=None)
    organization = Organization.objects.filter(slug=SLUG).first()
    if organization is None:
        organization = organization_create(name="Bench activity", slug=SLUG, admin=user)
    with tenant_context(organization):
        task = Task.objects.first()
        if task is None:
            project = Project.objects.first() or project_create(name="Bench", created_by=user)
            task = task_create(
                organization=organization, project=project, title="Benched", created_by=user
            )
    return organization, user, task


def update_with_entry(organization, user, task, status) -> None:
    task_update(organization=organization, task=task, data={"status": status}, actor=user)


def update_entry_switched_off(organization, user, task, status) -> None:
    recorder = task_services.activity_record_many
    task_services.activity_record_many = list  # consumes the entries, writes nothing
    try:
        task_update(organization=organization, task=task, data={"status": status}, actor=user)
    finally:
        task_services.activity_record_many = recorder


def update_model_save(organization, user, task, status) -> None:
    with transaction.atomic():
        Task.objects.select_for_update(no_key=True).filter(pk=task.pk).exists()
        task.status = status
        task.save(update_fields=["status", "updated_at"])


VARIANTS = {
    "model save only": update_model_save,
    "service, no entry": update_entry_switched_off,
    "service + entry": update_with_entry,
}


def one_round(organization, user, task, count: int) -> dict[str, float]:
    """Each variant's median milliseconds per update, over `count` updates each, taken in
    turn (every call changes the status, so every one writes)."""
    times = {name: [] for name in VARIANTS}
    statuses = itertools.cycle(STATUSES)
    for _ in range(count):
        for name, update in VARIANTS.items():
            status = next(statuses)
            started = time.perf_counter()
            update(organization, user, task, status)
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def statements(update, organization, user, task) -> int:
    # The query log is a bounded deque: once full, CaptureQueriesContext would see nothing.
    reset_queries()
    with CaptureQueriesContext(connection) as captured:
        update(organization, user, task, STATUSES[0])
        update(organization, user, task, STATUSES[1])
    return len(captured.captured_queries) // 2


def run(report: Report, *, quick: bool) -> None:
    rounds_count, updates = (3, 40) if quick else (7, 300)
    organization, user, task = ensure_data()
    # DEBUG=False: no query log on every statement (CaptureQueriesContext keeps its own).
    with override_settings(DEBUG=False), tenant_context(organization):
        one_round(organization, user, task, 30)  # warm up the connection and caches
        rounds = [one_round(organization, user, task, updates) for _ in range(rounds_count)]
        counts = {
            name: statements(update, organization, user, task) for name, update in VARIANTS.items()
        }
    medians = {name: statistics.median(r[name] for r in rounds) for name in VARIANTS}
    without, with_entry = medians["service, no entry"], medians["service + entry"]
    how = f"median of {rounds_count} rounds x {updates} updates per variant, interleaved"
    report.add(
        Row(
            section=SECTION,
            scenario="task update (one status change) with its entry: ms/update p50",
            value=with_entry,
            unit="ms",
            reference=without,
            reference_name="the same service call, no entry",
            target=f"<= {TARGET}x",
            passed=with_entry / without <= TARGET,
            details={"how": how, "statements": counts},
        )
    )
    report.add(
        Row(
            section=SECTION,
            scenario="task update without entry: ms/update p50",
            value=without,
            unit="ms",
            reference=medians["model save only"],
            reference_name="bare model save (row lock + save)",
            details={"how": how},
        )
    )
    for name, pin in STATEMENT_PINS.items():
        report.add(
            Row(
                section=SECTION,
                scenario=f"task update, {name}: statements",
                value=counts[name],
                unit="statements",
                target=f"<= {pin}",
                passed=counts[name] <= pin,
                deterministic=True,
            )
        )


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
