"""Deleting a project puts it in the trash with its live tasks; restoring it brings back exactly
those tasks; its name is free meanwhile, and a restore whose name was taken is a 409."""

import pytest
from django_tenants.utils import tenant_context

from shared_apps.organizations.models import Role
from shared_apps.organizations.permissions import TRASH_MANAGERS_ONLY
from tenant_apps.activity.models import Activity
from tenant_apps.activity.selectors import change_version
from tenant_apps.projects.models import Project
from tenant_apps.projects.services import NAME_TAKEN_ON_RESTORE
from tenant_apps.tasks.models import Task
from tests.factories import client_for, make_member, make_project, make_task

pytestmark = pytest.mark.django_db

PROJECTS = "/api/projects/"


@pytest.fixture
def setup(acme, acme_manager, acme_admin):
    """Project "Rocket" with two live tasks and one deleted on its own before the project
    goes; another project "Other" with a task."""
    rocket = make_project(acme, created_by=acme_manager, name="Rocket")
    other = make_project(acme, created_by=acme_manager, name="Other")
    kept = [make_task(acme, project=rocket, created_by=acme_manager) for _ in range(2)]
    earlier = make_task(acme, project=rocket, created_by=acme_manager, title="Deleted earlier")
    bystander = make_task(acme, project=other, created_by=acme_manager)
    client = client_for(acme_admin, acme)
    assert client.delete(f"/api/tasks/{earlier.id}/").status_code == 204
    return {
        "client": client,
        "rocket": rocket,
        "other": other,
        "kept": kept,
        "earlier": earlier,
        "bystander": bystander,
    }


def _live_task_ids(acme) -> set[int]:
    with tenant_context(acme):
        return set(Task.objects.values_list("id", flat=True))


def _trash(acme) -> dict[int, bool]:
    """Trashed task id -> whether it went with its project."""
    with tenant_context(acme):
        return dict(
            Task.all_objects.filter(deleted_at__isnull=False).values_list(
                "id", "deleted_with_project"
            )
        )


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_deleting_a_project_trashes_it_with_its_live_tasks_only(acme, acme_admin, setup):
    response = setup["client"].delete(f"{PROJECTS}{setup['rocket'].id}/")

    assert response.status_code == 204
    assert _trash(acme) == {
        setup["kept"][0].id: True,
        setup["kept"][1].id: True,
        setup["earlier"].id: False,  # went on its own, before
    }
    assert _live_task_ids(acme) == {setup["bystander"].id}
    with tenant_context(acme):
        row = Project.all_objects.get(pk=setup["rocket"].pk)
        assert row.deleted_at is not None and row.deleted_by_id == acme_admin.id
        assert {t.deleted_at for t in Task.all_objects.filter(deleted_with_project=True)} == {
            row.deleted_at
        }


def test_a_trashed_project_disappears_from_lists_and_details(acme, acme_member, setup):
    setup["client"].delete(f"{PROJECTS}{setup['rocket'].id}/")
    client = client_for(acme_member, acme)

    assert _ids(client.get(PROJECTS)) == {setup["other"].id}
    assert _ids(client.get(PROJECTS, {"ordering": "name"})) == {setup["other"].id}
    assert client.get(f"{PROJECTS}{setup['rocket'].id}/").status_code == 404
    assert _ids(client.get("/api/tasks/", {"project": setup["rocket"].id})) == set()


def test_restoring_a_project_restores_exactly_the_tasks_that_went_with_it(acme, setup):
    client = setup["client"]
    client.delete(f"{PROJECTS}{setup['rocket'].id}/")

    response = client.post(f"{PROJECTS}{setup['rocket'].id}/restore/")

    assert response.status_code == 200, response.content
    assert response.json()["id"] == setup["rocket"].id
    assert response.json()["deleted_at"] is None
    assert _live_task_ids(acme) == {t.id for t in setup["kept"]} | {setup["bystander"].id}
    # The task deleted on its own stays in the trash, and can now be restored alone.
    assert _trash(acme) == {setup["earlier"].id: False}
    assert client.post(f"/api/tasks/{setup['earlier'].id}/restore/").status_code == 200


def test_managers_list_the_project_trash_and_members_may_not(
    acme, acme_manager, acme_member, setup
):
    setup["client"].delete(f"{PROJECTS}{setup['rocket'].id}/")

    listed = client_for(acme_manager, acme).get(PROJECTS, {"deleted": "true"})
    refused = client_for(acme_member, acme).get(PROJECTS, {"deleted": "true"})

    assert _ids(listed) == {setup["rocket"].id}
    assert listed.json()["results"][0]["deleted_by"]["email"]
    assert refused.status_code == 403
    assert refused.json() == {"detail": TRASH_MANAGERS_ONLY}


@pytest.mark.parametrize("role", [Role.MANAGER, Role.MEMBER])
def test_only_admins_restore_a_project(acme, setup, role):
    setup["client"].delete(f"{PROJECTS}{setup['rocket'].id}/")

    response = client_for(make_member(acme, role), acme).post(
        f"{PROJECTS}{setup['rocket'].id}/restore/"
    )

    assert response.status_code == 403
    assert _live_task_ids(acme) == {setup["bystander"].id}


def test_restoring_a_live_or_unknown_project_is_not_found(acme, setup):
    assert setup["client"].post(f"{PROJECTS}{setup['other'].id}/restore/").status_code == 404
    assert setup["client"].post(f"{PROJECTS}987654321/restore/").status_code == 404


def test_a_trashed_projects_name_can_be_reused(acme, setup):
    client = setup["client"]
    client.delete(f"{PROJECTS}{setup['rocket'].id}/")

    created = client.post(PROJECTS, {"name": "Rocket"}, format="json")
    renamed = client.patch(f"{PROJECTS}{setup['other'].id}/", {"name": "Rocket"}, format="json")

    assert created.status_code == 201, created.content
    # ...but only once: live names stay unique.
    assert renamed.status_code == 400 and list(renamed.json()) == ["name"]


def test_restoring_a_project_whose_name_was_taken_is_a_409_that_changes_nothing(acme, setup):
    client = setup["client"]
    client.delete(f"{PROJECTS}{setup['rocket'].id}/")
    newcomer = client.post(PROJECTS, {"name": "Rocket"}, format="json").json()
    with tenant_context(acme):
        before = (
            list(Project.all_objects.order_by("id").values()),
            list(Task.all_objects.order_by("id").values()),
            Activity.objects.count(),
            change_version(),
        )

    response = client.post(f"{PROJECTS}{setup['rocket'].id}/restore/")

    assert response.status_code == 409
    assert response.json() == {"detail": NAME_TAKEN_ON_RESTORE.format(name="Rocket")}
    with tenant_context(acme):
        after = (
            list(Project.all_objects.order_by("id").values()),
            list(Task.all_objects.order_by("id").values()),
            Activity.objects.count(),
            change_version(),
        )
    assert after == before
    # Renaming the newcomer frees the name; the restore then succeeds.
    client.patch(f"{PROJECTS}{newcomer['id']}/", {"name": "Rocket 2"}, format="json")
    assert client.post(f"{PROJECTS}{setup['rocket'].id}/restore/").status_code == 200


def test_the_409_is_documented_on_the_restore_operation_only(acme, acme_member):
    schema = client_for(None, acme).get("/api/schema/", HTTP_ACCEPT="application/json").json()

    restore = schema["paths"]["/api/projects/{id}/restore/"]["post"]["responses"]
    assert restore["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert "409" not in schema["paths"]["/api/projects/{id}/"]["delete"]["responses"]
    assert "409" not in schema["paths"]["/api/tasks/{id}/restore/"]["post"]["responses"]


def test_deleting_a_project_twice_is_not_found_the_second_time(acme, setup):
    client = setup["client"]

    assert client.delete(f"{PROJECTS}{setup['rocket'].id}/").status_code == 204
    assert client.delete(f"{PROJECTS}{setup['rocket'].id}/").status_code == 404
