"""Helpers for race tests that commit for real on separate connections."""

import threading
from collections.abc import Callable

from django.db import connection
from django.db.models import Max
from django_tenants.utils import tenant_context

from tenant_apps.activity.models import Activity

BLOCKED_FOR = 0.3  # how long a waiting transaction must still be waiting
TIMEOUT = 15  # upper bound for anything that should happen promptly


class Worker(threading.Thread):
    """Runs `target` on its own connection; records its result or exception; closes the
    connection at the end."""

    def __init__(self, target: Callable[[], object]):
        super().__init__(daemon=True)
        self._target_fn = target
        self.result = None
        self.error: BaseException | None = None
        self.done = threading.Event()

    def run(self):
        try:
            self.result = self._target_fn()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc
        finally:
            self.done.set()
            connection.close()


def finish(*workers: Worker, release: threading.Event) -> None:
    """Let held transactions go and wait for every worker to end."""
    release.set()
    for worker in workers:
        worker.join(timeout=TIMEOUT)
    assert not any(worker.is_alive() for worker in workers), "a worker is stuck"


def last_activity_id(organization) -> int:
    """The newest activity entry's id in `organization` (0 if none): note it before a test
    that commits for real, and give it to `delete_activity_after` at the end."""
    with tenant_context(organization):
        return Activity.objects.aggregate(top=Max("id"))["top"] or 0


def delete_activity_after(organization, last_id: int) -> None:
    """Remove the activity entries committed since `last_id` (before deleting the users they
    name as actors, which their foreign key would refuse)."""
    with tenant_context(organization):
        Activity.objects.filter(id__gt=last_id).delete()
