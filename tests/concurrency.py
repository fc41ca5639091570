"""Helpers for race tests that commit for real on separate connections."""

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from django.db.models import Max
from django_tenants.utils import tenant_context
from knox.models import AuthToken

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Membership, Organization
from tenant_apps.activity.models import Activity
from tenant_apps.projects.models import Project
from tenant_apps.tasks.models import Task
from tests.factories import make_user, users_delete

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


def waits_on_a_lock(worker: Worker, timeout: float = TIMEOUT) -> bool:
    """Whether `worker` comes to wait on a lock (a connection to this database other than
    this thread's waits on one) before it ends. Polled, so a slow machine takes longer
    rather than failing, as a fixed wait would once the worker is slow to reach the lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not worker.done.is_set():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND wait_event_type = 'Lock')"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.01)
    return False


def last_activity_id(organization) -> int:
    """The newest activity entry's id in `organization` (0 if none): note it before a test
    that commits for real, and give it to `delete_activity_after` at the end."""
    with tenant_context(organization):
        return Activity.objects.aggregate(top=Max("id"))["top"] or 0


def delete_activity_after(organization, last_id: int) -> None:
    """Remove the activity entries committed since `last_id` (before deleting the users they
    name as actors)."""
    with tenant_context(organization):
        Activity.objects.filter(id__gt=last_id).delete()


@contextmanager
def committed_member(django_db_blocker, *, role: str, label: str) -> Iterator[User]:
    """A user committed for real as a `role` member of acme (race tests have no `db`
    fixture: a rolled-back test transaction could not race). Afterwards everything they
    made is deleted: the activity entries since, their tasks and projects (trash included),
    tokens, membership, and the user."""
    with django_db_blocker.unblock():
        # pytest-django creates the test database only if a selected test uses `db`; never
        # commit to the development database.
        if not connection.settings_dict["NAME"].startswith("test_"):
            pytest.fail("not on the test database: select a test that uses `db` as well")
        acme = Organization.objects.get(slug="acme")
        last_activity = last_activity_id(acme)
        user = make_user(email=f"{label}-{uuid.uuid4().hex[:8]}@test.example.com")
        try:
            Membership.objects.create(user=user, organization=acme, role=role)
            yield user
        finally:
            connection.set_schema_to_public()
            delete_activity_after(acme, last_activity)
            with tenant_context(acme):
                # all_objects: the trash too (deleting a project puts it and its tasks there).
                Task.all_objects.filter(created_by_id=user.pk).delete()
                Project.all_objects.filter(created_by_id=user.pk).delete()
            AuthToken.objects.filter(user_id=user.pk).delete()
            Membership.objects.filter(user_id=user.pk).delete()
            users_delete("id = %s", [user.pk])
