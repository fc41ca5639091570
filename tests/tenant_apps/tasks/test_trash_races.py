"""Deletes, restores and purges racing each other, with real commits on separate connections:
the services lock the row, so the second request waits and gets a clean answer (404 or 400),
never a 500 or a doubled entry.

No `db` fixture (see test_assignee_race.py); everything committed here is removed in `finally`.
"""

import datetime
import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared_apps.organizations.models import Organization, Role
from tenant_apps.activity.models import Activity
from tenant_apps.projects.models import Project
from tenant_apps.projects.services import project_delete, project_restore
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.services import PROJECT_IN_TRASH, task_delete, trash_purge
from tests.concurrency import (
    BLOCKED_FOR,
    TIMEOUT,
    Worker,
    committed_member,
    finish,
)
from tests.factories import client_for, make_project, make_task


@pytest.fixture
def committed(django_db_blocker):
    """Real commits: an ADMIN of acme with a project holding a task; deletes it all after."""
    with committed_member(django_db_blocker, role=Role.ADMIN, label="trash-race") as user:
        acme = Organization.objects.get(slug="acme")
        project = make_project(acme, created_by=user)
        task = make_task(acme, project=project, created_by=user)
        yield {"acme": acme, "user": user, "project": project, "task": task}


def _hold(state: dict, action, done: threading.Event, release: threading.Event) -> None:
    """Run `action()` in acme, then keep its transaction open until `release`."""
    with transaction.atomic(), tenant_context(state["acme"]):
        action()
        done.set()
        if not release.wait(timeout=TIMEOUT):
            raise TimeoutError("never released")


def _second_waits_for_first(state: dict, first_action, second) -> Worker:
    """Start `first_action` and hold it; send `second` meanwhile; check it waits; return
    its worker once both are done."""
    done, release = threading.Event(), threading.Event()
    holder = Worker(lambda: _hold(state, first_action, done, release))
    request = Worker(second)
    try:
        holder.start()
        assert done.wait(timeout=TIMEOUT), holder.error
        request.start()
        # Blocked on the row lock the first one holds.
        assert not request.done.wait(timeout=BLOCKED_FOR), (request.error, request.result)
    finally:
        finish(holder, request, release=release)
    assert holder.error is None, holder.error
    assert request.error is None, request.error
    return request


def _entries(state: dict, verb: str, target_type: str, target_id: int) -> int:
    with tenant_context(state["acme"]):
        return Activity.objects.filter(
            verb=verb, target_type=target_type, target_id=target_id
        ).count()


def test_two_deletes_of_one_task_give_one_204_and_one_404(committed):
    task = committed["task"]
    client = client_for(committed["user"], committed["acme"])

    request = _second_waits_for_first(
        committed,
        lambda: task_delete(task=task, actor=committed["user"]),
        lambda: client.delete(f"/api/tasks/{task.pk}/"),
    )

    assert request.result.status_code == 404, request.result.content
    assert _entries(committed, "deleted", "task", task.pk) == 1


def test_two_restores_of_one_project_give_one_200_and_one_404(committed):
    project, task = committed["project"], committed["task"]
    with tenant_context(committed["acme"]):
        project_delete(project=project, actor=committed["user"])
    client = client_for(committed["user"], committed["acme"])

    request = _second_waits_for_first(
        committed,
        lambda: project_restore(project=project, actor=committed["user"]),
        lambda: client.post(f"/api/projects/{project.pk}/restore/"),
    )

    assert request.result.status_code == 404, request.result.content
    assert _entries(committed, "restored", "project", project.pk) == 1
    with tenant_context(committed["acme"]):
        assert Task.objects.filter(pk=task.pk).exists()


def test_restoring_a_task_while_its_project_is_being_deleted_is_a_400(committed):
    project = committed["project"]
    alone = make_task(committed["acme"], project=project, created_by=committed["user"])
    with tenant_context(committed["acme"]):
        task_delete(task=alone, actor=committed["user"])
    client = client_for(committed["user"], committed["acme"])

    request = _second_waits_for_first(
        committed,
        lambda: project_delete(project=project, actor=committed["user"]),
        lambda: client.post(f"/api/tasks/{alone.pk}/restore/"),
    )

    assert request.result.status_code == 400, request.result.content
    assert request.result.json() == {"detail": PROJECT_IN_TRASH}
    with tenant_context(committed["acme"]):
        assert not Task.objects.filter(project_id=project.pk).exists()


def test_restoring_what_a_purge_is_removing_is_a_404(committed):
    project = committed["project"]
    with tenant_context(committed["acme"]):
        project_delete(project=project, actor=committed["user"])
    client = client_for(committed["user"], committed["acme"])
    later = timezone.now() + datetime.timedelta(seconds=1)

    request = _second_waits_for_first(
        committed,
        lambda: trash_purge(deleted_before=later),
        lambda: client.post(f"/api/projects/{project.pk}/restore/"),
    )

    assert request.result.status_code == 404, request.result.content
    with tenant_context(committed["acme"]):
        assert not Project.all_objects.filter(pk=project.pk).exists()


def test_a_purge_keeps_what_a_restore_took_back_meanwhile(committed):
    project, task = committed["project"], committed["task"]
    with tenant_context(committed["acme"]):
        project_delete(project=project, actor=committed["user"])
    later = timezone.now() + datetime.timedelta(seconds=1)

    def purge():
        with tenant_context(committed["acme"]):
            return trash_purge(deleted_before=later)

    request = _second_waits_for_first(
        committed, lambda: project_restore(project=project, actor=committed["user"]), purge
    )

    assert request.result == {"tasks": 0, "projects": 0}
    with tenant_context(committed["acme"]):
        assert Project.objects.filter(pk=project.pk).exists()
        assert Task.objects.filter(pk=task.pk).exists()


@pytest.mark.django_db
def test_restore_and_delete_services_lock_the_row_they_change(acme, acme_admin):
    # What the races above rely on (a `db` test also makes pytest-django create the test
    # database when this module runs on its own).
    project = make_project(acme, created_by=acme_admin)
    task = make_task(acme, project=project, created_by=acme_admin)
    with tenant_context(acme), CaptureQueriesContext(connection) as queries:
        task_delete(task=task, actor=acme_admin)
        project_delete(project=project, actor=acme_admin)
        project_restore(project=project, actor=acme_admin)

    locking = [q["sql"] for q in queries.captured_queries if " FOR " in q["sql"]]
    assert any("tasks_task" in sql and "FOR NO KEY UPDATE" in sql for sql in locking)
    assert sum("projects_project" in sql and "FOR UPDATE" in sql for sql in locking) == 2
