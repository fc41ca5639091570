"""Deleting a task puts it in the trash: it disappears from every list, filter, detail, count,
search and choice, ADMINs and MANAGERs list the trash with `?deleted=true` and restore from it."""

import pytest
from django.db.models import Count
from django.http import Http404
from django_tenants.utils import tenant_context

from shared_apps.organizations.models import Role
from shared_apps.organizations.permissions import TRASH_MANAGERS_ONLY
from tenant_apps.projects.models import Project
from tenant_apps.projects.services import project_delete
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.services import PROJECT_IN_TRASH, task_delete
from tests.factories import client_for, make_member, make_project, make_task

pytestmark = pytest.mark.django_db

TASKS = "/api/tasks/"


@pytest.fixture
def world(acme, acme_manager, acme_member):
    """A project with a live task and a trashed one, both HIGH, assigned to the MEMBER and
    titled "Needle ..."."""
    project = make_project(acme, created_by=acme_manager, name="Trash project")
    fields = dict(priority="HIGH", assignee_ids=[acme_member.id], due_date="2020-01-01")
    live = make_task(acme, project=project, created_by=acme_manager, title="Needle live", **fields)
    gone = make_task(acme, project=project, created_by=acme_manager, title="Needle gone", **fields)
    response = client_for(acme_manager, acme).delete(f"{TASKS}{gone.id}/")
    assert response.status_code == 204
    return {"project": project, "live": live, "gone": gone}


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_delete_keeps_the_row_marked_with_when_and_by_whom(acme, acme_manager, world):
    with tenant_context(acme):
        row = Task.all_objects.get(pk=world["gone"].pk)
        assert row.deleted_at is not None
        assert row.deleted_by_id == acme_manager.id
        assert not row.deleted_with_project
        # Assignments stay, so a restore brings them back.
        assert list(row.assignees.values_list("email", flat=True))


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"project": "{project}"},
        {"priority": "HIGH"},
        {"status": "NEW"},
        {"assignee": "me"},
        {"search": "needle"},
        {"overdue": "true"},
        {"due_before": "2021-01-01"},
        {"ordering": "-priority"},
        {"ordering": "due_date"},
    ],
)
def test_every_list_and_filter_hides_a_trashed_task(acme, acme_member, world, query):
    query = {k: v.format(project=world["project"].id) for k, v in query.items()}

    listed = _ids(client_for(acme_member, acme).get(TASKS, query))

    assert world["live"].id in listed
    assert world["gone"].id not in listed


def test_a_trashed_tasks_detail_and_writes_are_not_found(acme, acme_manager, world):
    client = client_for(acme_manager, acme)
    url = f"{TASKS}{world['gone'].id}/"

    assert client.get(url).status_code == 404
    assert client.patch(url, {"title": "Back?"}, format="json").status_code == 404
    assert client.delete(url).status_code == 404  # a second delete, too


def test_counts_and_related_managers_hide_trashed_tasks(acme, world):
    with tenant_context(acme):
        assert Task.objects.filter(project=world["project"]).count() == 1
        project = Project.objects.get(pk=world["project"].pk)
        assert list(project.tasks.values_list("id", flat=True)) == [world["live"].id]
        per_project = Task.objects.values("project").annotate(n=Count("id"))
        assert list(per_project) == [{"project": project.pk, "n": 1}]
        # Only the trash and the services look at everything.
        assert Task.all_objects.filter(project=project).count() == 2


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER])
def test_managers_list_the_trash_with_deleted_true(acme, world, role):
    listed = client_for(make_member(acme, role), acme).get(TASKS, {"deleted": "true"})

    assert _ids(listed) == {world["gone"].id}
    row = listed.json()["results"][0]
    assert row["deleted_at"] is not None
    assert row["deleted_by"]["id"] == world["gone"].created_by_id
    assert row["project"] == world["project"].id


def test_deleted_false_is_the_live_list(acme, acme_member, world):
    assert _ids(client_for(acme_member, acme).get(TASKS, {"deleted": "false"})) == {
        world["live"].id
    }


def test_a_member_may_not_list_the_trash(acme, acme_member, world):
    response = client_for(acme_member, acme).get(TASKS, {"deleted": "true"})

    assert response.status_code == 403
    assert response.json() == {"detail": TRASH_MANAGERS_ONLY}


def test_the_other_filters_apply_to_the_trash(acme, acme_manager, world):
    client = client_for(acme_manager, acme)

    assert _ids(client.get(TASKS, {"deleted": "true", "search": "needle"})) == {world["gone"].id}
    assert _ids(client.get(TASKS, {"deleted": "true", "priority": "LOW"})) == set()
    assert _ids(client.get(TASKS, {"deleted": "true", "project": world["project"].id})) == {
        world["gone"].id
    }


def test_a_malformed_deleted_value_is_a_400_naming_it(acme, acme_manager):
    response = client_for(acme_manager, acme).get(TASKS, {"deleted": "yes"})

    assert response.status_code == 400
    assert list(response.json()) == ["deleted"]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER])
def test_restoring_a_task_brings_it_back_with_its_assignees(acme, acme_member, world, role):
    client = client_for(make_member(acme, role), acme)

    response = client.post(f"{TASKS}{world['gone'].id}/restore/")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == world["gone"].id and body["deleted_at"] is None
    assert [user["id"] for user in body["assignees"]] == [acme_member.id]
    assert world["gone"].id in _ids(client.get(TASKS))
    assert client.get(f"{TASKS}{world['gone'].id}/").status_code == 200


def test_a_member_may_not_restore(acme, acme_member, world):
    response = client_for(acme_member, acme).post(f"{TASKS}{world['gone'].id}/restore/")

    assert response.status_code == 403
    with tenant_context(acme):
        assert not Task.objects.filter(pk=world["gone"].pk).exists()


def test_restoring_a_live_or_unknown_task_is_not_found(acme, acme_manager, world):
    client = client_for(acme_manager, acme)

    assert client.post(f"{TASKS}{world['live'].id}/restore/").status_code == 404
    assert client.post(f"{TASKS}987654321/restore/").status_code == 404


def test_a_task_of_a_trashed_project_cannot_be_restored_alone(acme, acme_admin, world):
    with tenant_context(acme):
        project_delete(project=world["project"], actor=acme_admin)
    client = client_for(acme_admin, acme)

    response = client.post(f"{TASKS}{world['live'].id}/restore/")

    assert response.status_code == 400
    assert response.json() == {"detail": PROJECT_IN_TRASH}
    with tenant_context(acme):
        assert not Task.objects.filter(pk=world["live"].pk).exists()


def test_a_trashed_project_is_not_a_choice_for_a_task(acme, acme_admin, acme_manager, world):
    doomed = make_project(acme, created_by=acme_manager, name="Doomed")
    with tenant_context(acme):
        project_delete(project=doomed, actor=acme_admin)
    client = client_for(acme_manager, acme)

    created = client.post(TASKS, {"project": doomed.id, "title": "Into the trash"}, format="json")
    moved = client.patch(f"{TASKS}{world['live'].id}/", {"project": doomed.id}, format="json")

    for response in (created, moved):
        assert response.status_code == 400, response.content
        assert list(response.json()) == ["project"]


def test_the_assignee_filter_does_not_show_trashed_tasks(acme, acme_member, world):
    # A MEMBER's own view (`assignee=me`) does not show what was deleted.
    assert _ids(client_for(acme_member, acme).get(TASKS, {"assignee": acme_member.id})) == {
        world["live"].id
    }


def test_deleting_twice_through_the_service_is_not_found_the_second_time(acme, acme_manager, world):
    with tenant_context(acme), pytest.raises(Http404):
        task_delete(task=world["gone"], actor=acme_manager)
