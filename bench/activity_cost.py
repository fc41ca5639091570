"""What the activity log costs a write: a task update through the service with its `updated`
entry and the change-counter bump (one statement, in the update's transaction), against the
same update without an entry.

"Without an entry" is measured two ways: the same service call with the entry's write
switched off (same locks, validation and save: the target's denominator), and the bare model
save path (row lock and `save(update_fields=...)` in a transaction) for reference.

Usage: DJANGO_SETTINGS_MODULE=saas.settings python -m bench.activity_cost [--updates 300]
Creates (once) an organization `bench-activity` with one task; each of RUNS rounds times
UPDATES status changes per variant, interleaved update by update (so load on the machine hits
all alike), and the table shows the median over rounds of each round's median. Target: with
the entry at most 1.3x the same update without one.
"""

import argparse
import itertools
import statistics
import time

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402

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
RUNS = 7
TARGET = 1.3
STATUSES = [Status.IN_PROGRESS, Status.NEW]


def ensure_data() -> tuple[Organization, User, Task]:
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
    with CaptureQueriesContext(connection) as captured:
        update(organization, user, task, STATUSES[0])
        update(organization, user, task, STATUSES[1])
    return len(captured.captured_queries) // 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=300, help="updates per variant and round")
    args = parser.parse_args()
    organization, user, task = ensure_data()
    with tenant_context(organization):
        one_round(organization, user, task, 30)  # warm up the connection and caches
        rounds = [one_round(organization, user, task, args.updates) for _ in range(RUNS)]
        counts = {
            name: statements(update, organization, user, task) for name, update in VARIANTS.items()
        }

    medians = {name: statistics.median(r[name] for r in rounds) for name in VARIANTS}
    without, with_entry = medians["service, no entry"], medians["service + entry"]
    print(
        f"Task update (one status change): median of {RUNS} rounds x {args.updates} updates "
        "per variant, interleaved"
    )
    print(f"{'':<18} {'ms/update':>10} {'statements':>11} {'vs no entry':>12} {'vs save':>8}")
    for name in VARIANTS:
        print(
            f"{name:<18} {medians[name]:>10.3f} {counts[name]:>11} "
            f"{medians[name] / without:>11.2f}x {medians[name] / medians['model save only']:>7.2f}x"
        )
    ratio = with_entry / without
    verdict = "within" if ratio <= TARGET else "OVER"
    print(
        f"-> the entry costs {ratio:.2f}x the same update without it: {verdict} the {TARGET}x target"
    )


if __name__ == "__main__":
    main()
