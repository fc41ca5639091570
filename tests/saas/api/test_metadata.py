"""saas/api/metadata.py: OPTIONS lists the writes (PUT, POST) the caller may really make, with
the fields that write accepts."""

import pytest

from shared_apps.organizations.models import Role
from tests.factories import client_for, make_member, make_project, make_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(acme, acme_manager, acme_member):
    """A task of acme assigned to acme_member (who may change its status, not PUT it)."""
    project = make_project(acme, created_by=acme_manager)
    return make_task(acme, project=project, created_by=acme_manager, assignee_ids=[acme_member.pk])


def _writes(acme, user, path: str) -> dict:
    response = client_for(user, acme).options(path)
    assert response.status_code == 200, response.content
    return response.json().get("actions", {})


@pytest.mark.parametrize(
    ("role", "task_writes", "list_writes"),
    [
        (Role.ADMIN, {"PUT"}, {"POST"}),
        (Role.MANAGER, {"PUT"}, {"POST"}),
        (Role.MEMBER, set(), set()),
    ],
)
def test_options_on_tasks_lists_only_the_writes_the_role_may_make(
    acme, task, role, task_writes, list_writes
):
    user = make_member(acme, role)

    assert set(_writes(acme, user, f"/api/tasks/{task.pk}/")) == task_writes
    assert set(_writes(acme, user, "/api/tasks/")) == list_writes


def test_options_describes_the_fields_a_task_write_accepts(acme, task, acme_manager):
    fields = _writes(acme, acme_manager, "/api/tasks/")["POST"]

    assert {"project", "title", "assignee_ids"} <= set(fields)
    assert not fields["title"]["read_only"]
    assert "created_by" not in fields


@pytest.mark.parametrize(("role", "writes"), [(Role.ADMIN, {"POST"}), (Role.MANAGER, {"POST"})])
def test_options_on_projects_follows_the_project_policy(acme, role, writes):
    assert set(_writes(acme, make_member(acme, role), "/api/projects/")) == writes
    assert set(_writes(acme, make_member(acme, Role.MEMBER), "/api/projects/")) == set()


def test_options_still_answers_the_options_request_as_itself(acme, task, acme_member):
    # The permission checks of each write must not leak into the OPTIONS answer's own action.
    response = client_for(acme_member, acme).options(f"/api/tasks/{task.pk}/")

    assert response.status_code == 200
    assert response.json()["name"] == "Task Instance"
    assert "PUT" in response["Allow"]  # the route has PUT; this caller may not use it
