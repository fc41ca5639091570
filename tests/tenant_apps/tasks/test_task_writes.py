"""Writing tasks and projects: what the server decides (creator, ids), what managers may change,
and validation errors that name the offending field without touching the database."""

import datetime
from dataclasses import dataclass

import pytest
from django.db.models import Max
from django_tenants.utils import tenant_context

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Role
from tenant_apps.projects.models import Project
from tenant_apps.projects.services import NAME_TAKEN
from tenant_apps.tasks.models import Task
from tests.factories import client_for, make_member, make_project, make_task, make_user

pytestmark = pytest.mark.django_db


def task_rows(organization) -> list[tuple]:
    """Every task of the organization with its assignees, for before/after comparisons."""
    with tenant_context(organization):
        return [
            (
                t.id,
                t.project_id,
                t.title,
                t.description,
                t.status,
                t.priority,
                t.due_date,
                t.created_by_id,
                sorted(u.id for u in t.assignees.all()),
            )
            for t in Task.objects.prefetch_related("assignees").order_by("id")
        ]


def project_rows(organization) -> list[tuple]:
    with tenant_context(organization):
        return list(
            Project.objects.order_by("id").values_list("id", "name", "description", "created_by_id")
        )


def task_in(organization, pk: int) -> Task:
    with tenant_context(organization):
        task = Task.objects.prefetch_related("assignees").get(pk=pk)
        task.assignee_set = {user.id for user in task.assignees.all()}
        return task


@dataclass
class Setup:
    manager: User
    project: Project
    other_project: Project
    task: Task
    people: list[User]  # three MEMBERs of acme
    outsider: User  # a member of globex only


@pytest.fixture
def setup(acme, globex, acme_manager) -> Setup:
    """Two acme projects, three acme MEMBERs, a task assigned to the first two, a globex-only user."""
    people = [make_member(acme, Role.MEMBER) for _ in range(3)]
    project = make_project(acme, created_by=acme_manager, name="Writes project")
    other_project = make_project(acme, created_by=acme_manager, name="Writes other project")
    task = make_task(
        acme,
        project=project,
        created_by=acme_manager,
        title="Original title",
        description="Original description",
        assignee_ids=[people[0].id, people[1].id],
    )
    return Setup(
        manager=acme_manager,
        project=project,
        other_project=other_project,
        task=task,
        people=people,
        outsider=make_member(globex, Role.MEMBER),
    )


# --- What the server decides -------------------------------------------------------------------


def test_created_by_is_the_requesting_user_even_if_the_body_names_someone_else(acme, setup):
    impostor = setup.people[2]

    response = client_for(setup.manager, acme).post(
        "/api/tasks/",
        {"project": setup.project.id, "title": "Whose task", "created_by": impostor.id},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["created_by"] == {
        "id": setup.manager.id,
        "email": setup.manager.email,
        "full_name": setup.manager.full_name,
    }
    assert task_in(acme, response.json()["id"]).created_by_id == setup.manager.id


def test_created_by_cannot_be_changed_by_an_update(acme, setup, acme_admin):
    response = client_for(acme_admin, acme).patch(
        f"/api/tasks/{setup.task.id}/",
        {"title": "Still mine", "created_by": acme_admin.id},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["created_by"]["id"] == setup.manager.id
    assert task_in(acme, setup.task.id).created_by_id == setup.manager.id


def test_an_id_in_the_body_is_ignored_on_create(acme, setup):
    with tenant_context(acme):
        unused = (Task.objects.aggregate(top=Max("id"))["top"] or 0) + 10_000

    response = client_for(setup.manager, acme).post(
        "/api/tasks/",
        {"id": unused, "project": setup.project.id, "title": "Numbered"},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["id"] != unused
    with tenant_context(acme):
        assert not Task.objects.filter(pk=unused).exists()
        assert Task.objects.get(pk=response.json()["id"]).title == "Numbered"


def test_an_id_in_the_body_is_ignored_on_update(acme, setup):
    other = make_task(acme, project=setup.project, created_by=setup.manager, title="Bystander")
    before = task_rows(acme)

    response = client_for(setup.manager, acme).patch(
        f"/api/tasks/{setup.task.id}/", {"id": other.id, "title": "Renamed in place"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["id"] == setup.task.id
    assert task_in(acme, setup.task.id).title == "Renamed in place"
    assert task_in(acme, other.id).title == "Bystander"
    assert len(task_rows(acme)) == len(before)


# --- Managers change anything --------------------------------------------------------------------


@pytest.fixture(params=["ADMIN", "MANAGER"])
def editor(request, acme, setup, acme_admin) -> User:
    """An ADMIN or the MANAGER of acme."""
    return acme_admin if request.param == "ADMIN" else setup.manager


def test_admins_and_managers_can_change_every_field(acme, setup, editor):
    first, second, third = setup.people

    response = client_for(editor, acme).patch(
        f"/api/tasks/{setup.task.id}/",
        {
            "project": setup.other_project.id,
            "title": "  New title  ",
            "description": "New description",
            "status": "IN_PROGRESS",
            "priority": "HIGH",
            "due_date": "2026-12-31",
            "assignee_ids": [second.id, third.id],
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["project"] == setup.other_project.id
    assert body["title"] == "New title"
    assert (body["description"], body["status"], body["priority"], body["due_date"]) == (
        "New description",
        "IN_PROGRESS",
        "HIGH",
        "2026-12-31",
    )
    assert {user["id"] for user in body["assignees"]} == {second.id, third.id}
    task = task_in(acme, setup.task.id)
    assert (task.project_id, task.title, task.description) == (
        setup.other_project.id,
        "New title",
        "New description",
    )
    assert (task.status, task.priority, task.due_date) == (
        "IN_PROGRESS",
        "HIGH",
        datetime.date(2026, 12, 31),
    )
    assert task.assignee_set == {second.id, third.id}  # replaced, not added to
    assert task.created_by_id == setup.manager.id


def test_assignee_ids_replace_the_assignees_and_an_empty_list_clears_them(acme, setup, editor):
    client = client_for(editor, acme)
    url = f"/api/tasks/{setup.task.id}/"

    replaced = client.patch(url, {"assignee_ids": [setup.people[2].id]}, format="json")
    assert replaced.status_code == 200, replaced.content
    assert task_in(acme, setup.task.id).assignee_set == {setup.people[2].id}

    cleared = client.patch(url, {"assignee_ids": []}, format="json")
    assert cleared.status_code == 200, cleared.content
    assert cleared.json()["assignees"] == []
    assert task_in(acme, setup.task.id).assignee_set == set()


def test_a_patch_leaves_the_fields_it_does_not_mention_alone(acme, setup, editor):
    before = task_in(acme, setup.task.id)

    response = client_for(editor, acme).patch(
        f"/api/tasks/{setup.task.id}/", {"priority": "LOW"}, format="json"
    )

    assert response.status_code == 200, response.content
    after = task_in(acme, setup.task.id)
    assert after.priority == "LOW"
    assert (after.title, after.description, after.status, after.project_id, after.assignee_set) == (
        before.title,
        before.description,
        before.status,
        before.project_id,
        before.assignee_set,
    )


def test_a_due_date_can_be_cleared_with_null(acme, setup):
    with tenant_context(acme):
        Task.objects.filter(pk=setup.task.id).update(due_date=datetime.date(2026, 1, 1))

    response = client_for(setup.manager, acme).patch(
        f"/api/tasks/{setup.task.id}/", {"due_date": None}, format="json"
    )

    assert response.status_code == 200, response.content
    assert task_in(acme, setup.task.id).due_date is None


def test_a_title_of_exactly_255_characters_is_accepted(acme, setup):
    response = client_for(setup.manager, acme).post(
        "/api/tasks/", {"project": setup.project.id, "title": "x" * 255}, format="json"
    )

    assert response.status_code == 201, response.content
    assert task_in(acme, response.json()["id"]).title == "x" * 255


# --- Validation ---------------------------------------------------------------------------------

UNKNOWN_PROJECT = object()  # replaced by an id no acme project has
NON_MEMBER = object()  # replaced by the id of a globex-only user
NO_SUCH_USER = object()  # replaced by an id no user has
MISSING = object()  # the field is left out


def _resolve(value, acme, setup):
    if value is UNKNOWN_PROJECT:
        with tenant_context(acme):
            return (Project.objects.aggregate(top=Max("id"))["top"] or 0) + 10_000
    if value is NON_MEMBER:
        return setup.outsider.id
    if value is NO_SUCH_USER:
        return (User.objects.aggregate(top=Max("id"))["top"] or 0) + 10_000
    if isinstance(value, list):
        return [_resolve(item, acme, setup) for item in value]
    return value


INVALID = [
    pytest.param("due_date", "31-12-2026", id="due_date-not-iso"),
    pytest.param("due_date", "2026-02-30", id="due_date-impossible"),
    pytest.param("status", "BLOCKED", id="status-unknown"),
    pytest.param("status", "done", id="status-wrong-case"),
    pytest.param("priority", "URGENT", id="priority-unknown"),
    pytest.param("project", UNKNOWN_PROJECT, id="project-unknown"),
    pytest.param("project", "first", id="project-not-an-id"),
    pytest.param("project", None, id="project-null"),
    pytest.param("assignee_ids", [NON_MEMBER], id="assignee-not-a-member"),
    pytest.param("assignee_ids", [NO_SUCH_USER], id="assignee-no-such-user"),
    pytest.param("assignee_ids", 5, id="assignee_ids-a-number"),
    pytest.param("assignee_ids", "5", id="assignee_ids-a-string"),
    pytest.param("assignee_ids", {"id": 5}, id="assignee_ids-an-object"),
    pytest.param("assignee_ids", ["abc"], id="assignee_ids-not-ids"),
    pytest.param("assignee_ids", [0], id="assignee_ids-zero"),
    pytest.param("title", "x" * 256, id="title-too-long"),
    pytest.param("title", "", id="title-empty"),
    pytest.param("title", "   ", id="title-blank"),
    pytest.param("title", None, id="title-null"),
    # DRF's CharField would turn numbers into text ("2.2e+66" as a title).
    pytest.param("title", 2.2e66, id="title-a-number"),
    pytest.param("description", 42, id="description-a-number"),
]


def _assert_names_only(response, field: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body) == [field], body
    assert body[field] and all(isinstance(message, str) and message for message in body[field])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        *INVALID,
        pytest.param("title", MISSING, id="title-missing"),
        pytest.param("project", MISSING, id="project-missing"),
    ],
)
def test_an_invalid_create_is_refused_naming_the_field(acme, setup, field, value):
    body = {
        "project": setup.project.id,
        "title": "Valid title",
        "assignee_ids": [setup.people[0].id],
    }
    if value is MISSING:
        del body[field]
    else:
        body[field] = _resolve(value, acme, setup)
    before = task_rows(acme)

    response = client_for(setup.manager, acme).post("/api/tasks/", body, format="json")

    _assert_names_only(response, field)
    assert task_rows(acme) == before


@pytest.mark.parametrize(("field", "value"), INVALID)
def test_an_invalid_update_is_refused_naming_the_field(acme, setup, field, value):
    before = task_rows(acme)

    response = client_for(setup.manager, acme).patch(
        f"/api/tasks/{setup.task.id}/",
        {"description": "Should not stick", field: _resolve(value, acme, setup)},
        format="json",
    )

    _assert_names_only(response, field)
    assert task_rows(acme) == before


@pytest.mark.parametrize("method", ["post", "patch", "put"])
def test_a_body_that_is_not_json_is_refused(acme, setup, method):
    url = "/api/tasks/" if method == "post" else f"/api/tasks/{setup.task.id}/"
    before = task_rows(acme)

    response = getattr(client_for(setup.manager, acme), method)(
        url, data="not json", content_type="application/json"
    )

    assert response.status_code == 400, response.content
    assert "detail" in response.json()
    assert task_rows(acme) == before


@pytest.mark.parametrize("body", [["status", "DONE"], "DONE", 42])
def test_a_json_body_that_is_not_an_object_is_refused(acme, setup, body):
    before = task_rows(acme)

    response = client_for(setup.manager, acme).post("/api/tasks/", body, format="json")

    assert response.status_code == 400, response.content
    assert task_rows(acme) == before


# --- Projects -----------------------------------------------------------------------------------


def test_a_duplicate_project_name_in_the_same_organization_is_refused(acme, setup):
    before = project_rows(acme)

    response = client_for(setup.manager, acme).post(
        "/api/projects/", {"name": "Writes project"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"name": [NAME_TAKEN]}
    assert project_rows(acme) == before


def test_a_duplicate_name_with_surrounding_spaces_is_still_a_duplicate(acme, setup):
    before = project_rows(acme)

    response = client_for(setup.manager, acme).post(
        "/api/projects/", {"name": "  Writes project  "}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()) == ["name"]
    assert project_rows(acme) == before


def test_the_same_project_name_is_free_in_another_organization(acme, globex, setup):
    globex_manager = make_member(globex, Role.MANAGER)

    response = client_for(globex_manager, globex).post(
        "/api/projects/", {"name": "Writes project"}, format="json"
    )

    assert response.status_code == 201, response.content
    with tenant_context(globex):
        created = Project.objects.get(pk=response.json()["id"])
        assert (created.name, created.created_by_id) == ("Writes project", globex_manager.id)
    with tenant_context(acme):
        assert Project.objects.filter(name="Writes project").count() == 1


@pytest.mark.parametrize("name", ["", "   ", None])
def test_a_blank_project_name_is_refused(acme, setup, name):
    before = project_rows(acme)

    response = client_for(setup.manager, acme).post("/api/projects/", {"name": name}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["name"]
    assert project_rows(acme) == before


def test_a_project_name_over_200_characters_is_refused(acme, setup):
    before = project_rows(acme)

    response = client_for(setup.manager, acme).post(
        "/api/projects/", {"name": "x" * 201}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()) == ["name"]
    assert project_rows(acme) == before


@pytest.mark.parametrize("body", [{"name": 2.2e66}, {"name": "Named", "description": -9}])
def test_project_text_fields_take_strings_only(acme, setup, body):
    before = project_rows(acme)

    response = client_for(setup.manager, acme).post("/api/projects/", body, format="json")

    assert response.status_code == 400
    assert list(response.json()) == [list(body)[-1]]
    assert project_rows(acme) == before


def test_a_project_name_is_required(acme, setup):
    before = project_rows(acme)

    response = client_for(setup.manager, acme).post(
        "/api/projects/", {"description": "No name"}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()) == ["name"]
    assert project_rows(acme) == before


@pytest.mark.parametrize("method", ["patch", "put"])
def test_renaming_a_project_to_an_existing_name_is_refused(acme, setup, method):
    before = project_rows(acme)

    response = getattr(client_for(setup.manager, acme), method)(
        f"/api/projects/{setup.other_project.id}/", {"name": "Writes project"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"name": [NAME_TAKEN]}
    assert project_rows(acme) == before


def test_a_project_keeps_its_own_name_on_update(acme, setup):
    response = client_for(setup.manager, acme).patch(
        f"/api/projects/{setup.project.id}/",
        {"name": "Writes project", "description": "Same name"},
        format="json",
    )

    assert response.status_code == 200, response.content
    with tenant_context(acme):
        assert Project.objects.get(pk=setup.project.id).description == "Same name"


def test_project_created_by_and_id_come_from_the_server(acme, setup):
    impostor = make_user()
    with tenant_context(acme):
        unused = (Project.objects.aggregate(top=Max("id"))["top"] or 0) + 10_000

    response = client_for(setup.manager, acme).post(
        "/api/projects/",
        {"name": "Server decides", "created_by": impostor.id, "id": unused},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["created_by"]["id"] == setup.manager.id
    assert response.json()["id"] != unused
    with tenant_context(acme):
        assert Project.objects.get(name="Server decides").created_by_id == setup.manager.id
        assert not Project.objects.filter(pk=unused).exists()


def test_a_fractional_project_id_is_refused_not_rounded(acme, acme_manager):
    project = make_project(acme, created_by=acme_manager)

    response = client_for(acme_manager, acme).post(
        "/api/tasks/", {"project": project.pk + 0.5, "title": "Half"}, format="json"
    )

    assert response.status_code == 400
    assert "project" in response.json()


def test_any_member_may_ask_an_endpoint_for_its_options(acme, acme_member):
    response = client_for(acme_member, acme).options("/api/tasks/")

    assert response.status_code == 200
