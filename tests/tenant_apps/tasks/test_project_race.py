"""Task writes racing a project's deletion, with real commits on separate connections.

A task write takes a FOR KEY SHARE lock on the project it writes into; project_delete locks
the project FOR UPDATE before collecting its tasks. So a write that comes second waits for the
deletion and answers 400 naming `project` (it used to insert a task whose foreign key failed
at commit: a 500), and a deletion that comes second waits for the write and deletes its task.

No `db` fixture (see test_assignee_race.py); everything committed here is removed in `finally`.
"""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django_tenants.utils import tenant_context

from shared_apps.organizations.models import Organization, Role
from tenant_apps.projects.models import Project
from tenant_apps.projects.services import project_delete
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.services import PROJECT_GONE, task_create, task_update
from tests.concurrency import (
    BLOCKED_FOR,
    TIMEOUT,
    Worker,
    committed_member,
    finish,
    waits_on_a_lock,
)
from tests.factories import client_for, make_project, make_task


@pytest.fixture
def committed(django_db_blocker):
    """Real commits: a MANAGER of acme with two projects (`doomed`, `other`) and a task in
    `other`; deletes all of it afterwards."""
    with committed_member(django_db_blocker, role=Role.MANAGER, label="project-race") as user:
        acme = Organization.objects.get(slug="acme")
        doomed = make_project(acme, created_by=user)
        other = make_project(acme, created_by=user)
        task = make_task(acme, project=other, created_by=user)
        yield {"acme": acme, "user": user, "doomed": doomed, "other": other, "task": task}


def _delete_and_hold(state: dict, deleted: threading.Event, release: threading.Event) -> None:
    """Delete the doomed project, then keep the transaction open until `release`."""
    with transaction.atomic(), tenant_context(state["acme"]):
        project_delete(project=Project.objects.get(pk=state["doomed"].pk))
        deleted.set()
        if not release.wait(timeout=TIMEOUT):
            raise TimeoutError("never released")


def _race_a_request_with_the_deletion(state: dict, send) -> Worker:
    """Start the deletion, then `send` (an HTTP request) while the deletion is uncommitted;
    check the request waits for it; return the request's worker once both are done."""
    deleted, release = threading.Event(), threading.Event()
    deleter = Worker(lambda: _delete_and_hold(state, deleted, release))
    request = Worker(send)
    try:
        deleter.start()
        assert deleted.wait(timeout=TIMEOUT), deleter.error
        request.start()

        # The project still exists for the request's validation (nothing is committed yet), so
        # it gets as far as the lock, and waits there.
        assert waits_on_a_lock(request), (request.error, request.result)
        assert not request.done.wait(timeout=BLOCKED_FOR), (request.error, request.result)
    finally:
        finish(deleter, request, release=release)
    assert deleter.error is None, deleter.error
    assert request.error is None, request.error
    return request


def test_creating_a_task_in_a_project_being_deleted_answers_400_naming_project(committed):
    client = client_for(committed["user"], committed["acme"])

    request = _race_a_request_with_the_deletion(
        committed,
        lambda: client.post(
            "/api/tasks/", {"project": committed["doomed"].pk, "title": "Too late"}, format="json"
        ),
    )

    assert request.result.status_code == 400, request.result.content
    assert request.result.json() == {"project": [PROJECT_GONE]}
    with tenant_context(committed["acme"]):
        assert not Project.objects.filter(pk=committed["doomed"].pk).exists()
        assert not Task.objects.filter(title="Too late").exists()


def test_moving_a_task_into_a_project_being_deleted_answers_400_naming_project(committed):
    client = client_for(committed["user"], committed["acme"])
    task = committed["task"]

    request = _race_a_request_with_the_deletion(
        committed,
        lambda: client.patch(
            f"/api/tasks/{task.pk}/", {"project": committed["doomed"].pk}, format="json"
        ),
    )

    assert request.result.status_code == 400, request.result.content
    assert request.result.json() == {"project": [PROJECT_GONE]}
    with tenant_context(committed["acme"]):
        assert Task.objects.get(pk=task.pk).project_id == committed["other"].pk


def test_deleting_a_project_waits_for_a_task_write_into_it_and_deletes_that_task(committed):
    acme, doomed = committed["acme"], committed["doomed"]
    created, release = threading.Event(), threading.Event()

    def create_and_hold():
        with transaction.atomic(), tenant_context(acme):
            task = task_create(
                organization=acme, project=doomed, title="First in", created_by=committed["user"]
            )
            created.set()
            if not release.wait(timeout=TIMEOUT):
                raise TimeoutError("never released")
        return task.pk

    def delete():
        with tenant_context(acme):
            project_delete(project=Project.objects.get(pk=doomed.pk))

    writer, deleter = Worker(create_and_hold), Worker(delete)
    try:
        writer.start()
        assert created.wait(timeout=TIMEOUT), writer.error
        deleter.start()

        # The writer's FOR KEY SHARE lock on the project holds the deletion back.
        assert not deleter.done.wait(timeout=BLOCKED_FOR), deleter.error
    finally:
        finish(writer, deleter, release=release)

    assert writer.error is None, writer.error
    assert deleter.error is None, deleter.error  # no foreign key failure at its commit
    with tenant_context(acme):
        assert not Project.objects.filter(pk=doomed.pk).exists()
        assert not Task.objects.filter(pk=writer.result).exists()
        # In the trash with its project, so restoring the project brings it back.
        assert Task.all_objects.get(pk=writer.result).deleted_with_project


@pytest.mark.django_db
def test_a_task_write_into_a_deleted_project_is_refused_naming_project(acme, acme_manager):
    # The same refusal without a race (the project went between validation and the service);
    # a `db` test also makes pytest-django create the test database for this module.
    project = make_project(acme, created_by=acme_manager)
    task = make_task(
        acme, project=make_project(acme, created_by=acme_manager), created_by=acme_manager
    )
    with tenant_context(acme):
        Project.objects.filter(pk=project.pk).delete()

        with pytest.raises(ValidationError) as created:
            task_create(organization=acme, project=project, title="x", created_by=acme_manager)
        with pytest.raises(ValidationError) as moved:
            task_update(organization=acme, task=task, data={"project": project})

    assert created.value.message_dict == {"project": [PROJECT_GONE]}
    assert moved.value.message_dict == {"project": [PROJECT_GONE]}


@pytest.mark.django_db
def test_updating_or_deleting_rows_deleted_meanwhile_raises_http404(acme, acme_manager):
    project = make_project(acme, created_by=acme_manager)
    task = make_task(acme, project=project, created_by=acme_manager)
    with tenant_context(acme):
        Task.objects.filter(pk=task.pk).delete()
        Project.objects.filter(pk=project.pk).delete()

        with pytest.raises(Http404):
            task_update(organization=acme, task=task, data={"title": "Renamed"})
        with pytest.raises(Http404):
            project_delete(project=project)
