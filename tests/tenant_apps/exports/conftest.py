"""Fixtures for export tests: acme with tasks worth exporting, and requests whose jobs run."""

from dataclasses import dataclass
from datetime import date

import pytest
from django_tenants.utils import tenant_context

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Role
from tenant_apps.projects.models import Project
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.services import task_delete
from tests.factories import client_for, make_member, make_project, make_task
from tests.jobs import eager_jobs


@dataclass
class AcmeTasks:
    admin: User
    manager: User
    member: User
    project: Project
    other_project: Project
    tasks: list[Task]
    trashed: Task


@pytest.fixture
def acme_tasks(acme) -> AcmeTasks:
    """Acme with an ADMIN, a MANAGER, a MEMBER, two projects and tasks of every kind: text a
    CSV must quote (commas, quotes, line breaks, non-ASCII), text a spreadsheet would run as
    a formula, no due date, several assignees; and a task in the trash."""
    admin = make_member(acme, Role.ADMIN, full_name="Ada Admin")
    manager = make_member(acme, Role.MANAGER)
    member = make_member(acme, Role.MEMBER)
    project = make_project(acme, created_by=admin, name="Launch, phase 1")
    other_project = make_project(acme, created_by=admin, name='=HYPERLINK("x")')

    def task(**fields):
        return make_task(acme, project=fields.pop("project", project), created_by=admin, **fields)

    tasks = [
        task(
            title='Say "hello", world',
            description="Line one\nline two, with a comma\r\nand «ünïcödé» ✓",
            status=Task.Status.NEW,
            priority=Task.Priority.HIGH,
            due_date=date(2026, 1, 15),
            assignee_ids=[member.id, manager.id],
        ),
        task(
            title="=SUM(A1:A9)",
            description="@mention +1 -1",
            status=Task.Status.IN_PROGRESS,
            assignee_ids=[member.id],
        ),
        task(title="Done already", status=Task.Status.DONE, project=other_project),
        task(title="Plain", due_date=date(2030, 6, 1), assignee_ids=[manager.id]),
    ]
    trashed = task(title="In the trash", assignee_ids=[member.id])
    with tenant_context(acme):
        task_delete(task=trashed, actor=admin)
    return AcmeTasks(admin, manager, member, project, other_project, tasks, trashed)


@pytest.fixture
def request_export(django_capture_on_commit_callbacks):
    """`request_export(client, body)`: POST /api/exports/ as in production, where the job is
    queued when the request's transaction commits; here the test's transaction never
    commits, so the queued callbacks run at the end of the request, the job eagerly."""

    def request(client, body=None):
        with eager_jobs(), django_capture_on_commit_callbacks(execute=True):
            return client.post("/api/exports/", body or {}, format="json")

    return request


@pytest.fixture
def download():
    """`download(client, export_id)` -> (response, its body)."""

    def get(client, export_id):
        response = client.get(f"/api/exports/{export_id}/download/")
        # Reading the stream to its end closes the file (the test client wraps it).
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return response, body

    return get


@pytest.fixture
def acme_clients(acme, acme_tasks):
    """API clients on acme's host for its ADMIN, MANAGER and MEMBER."""
    return {
        "admin": client_for(acme_tasks.admin, acme),
        "manager": client_for(acme_tasks.manager, acme),
        "member": client_for(acme_tasks.member, acme),
    }
