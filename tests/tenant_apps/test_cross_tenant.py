"""One token, many hosts: each organization's API serves its own members and data, and only
to its own members; ids from another organization are not found there."""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.db.models import Max
from django_tenants.utils import tenant_context
from knox.models import AuthToken
from rest_framework.test import APIClient

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Membership, Organization, Role
from tenant_apps.activity.models import Activity
from tenant_apps.projects.models import Project
from tenant_apps.projects.services import project_delete
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.services import task_delete
from tests.factories import client_for, host_of, make_member, make_project, make_task, make_user

pytestmark = pytest.mark.django_db


def clients_sharing_one_token(user: User, *organizations: Organization) -> list[APIClient]:
    """API clients on each organization's host, all sending the same Bearer token."""
    _, token = AuthToken.objects.create(user=user)
    clients = []
    for organization in organizations:
        client = APIClient(HTTP_HOST=host_of(organization))
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        clients.append(client)
    return clients


def state_of(organization: Organization) -> dict:
    """The organization's memberships, projects, tasks and assignments, for before/after checks."""
    memberships = sorted(
        Membership.objects.filter(organization=organization).values_list("id", "user_id", "role")
    )
    with tenant_context(organization):
        projects = sorted(
            Project.all_objects.values_list(
                "id", "name", "description", "created_by_id", "deleted_at"
            )
        )
        tasks = sorted(
            Task.all_objects.values_list(
                "id",
                "project_id",
                "title",
                "description",
                "status",
                "priority",
                "due_date",
                "created_by_id",
                "deleted_at",
            )
        )
        assignments = sorted(Task.assignees.through.objects.values_list("task_id", "user_id"))
        activity = Activity.objects.count()
    return {
        "memberships": memberships,
        "projects": projects,
        "tasks": tasks,
        "assignments": assignments,
        "activity": activity,
    }


def _free_id(model) -> int:
    """An id used in neither acme nor globex (ids are per schema, so they can coincide)."""
    highest = 0
    for slug in ("acme", "globex"):
        with tenant_context(Organization.objects.get(slug=slug)):
            highest = max(highest, model.all_objects.aggregate(top=Max("id"))["top"] or 0)
    return highest + 1000


def project_only_in(organization: Organization, *, created_by: User, name: str) -> Project:
    """A project whose id exists in `organization` and in no other test organization."""
    project_id = _free_id(Project)
    with tenant_context(organization):
        return Project.objects.create(id=project_id, name=name, created_by=created_by)


def task_only_in(
    organization: Organization, *, project: Project, created_by: User, title: str
) -> Task:
    """A task whose id exists in `organization` and in no other test organization."""
    task_id = _free_id(Task)
    with tenant_context(organization):
        return Task.objects.create(id=task_id, project=project, title=title, created_by=created_by)


# --- A member of acme only, on globex's host --------------------------------------------------


@dataclass
class Globex:
    admin: User
    member_membership: Membership
    project: Project
    task: Task
    trashed_task: Task
    trashed_project: Project


@pytest.fixture
def globex_data(globex) -> Globex:
    """Globex with an ADMIN, a MEMBER, a project and a task assigned to the MEMBER; in its
    trash, a "Globex secret" task and project."""
    admin = make_member(globex, Role.ADMIN)
    member = make_member(globex, Role.MEMBER)
    project = make_project(globex, created_by=admin, name="Globex secret project")
    task = make_task(
        globex,
        project=project,
        created_by=admin,
        title="Globex secret task",
        assignee_ids=[member.id],
    )
    trashed_task = make_task(
        globex, project=project, created_by=admin, title="Globex secret trashed task"
    )
    trashed_project = make_project(globex, created_by=admin, name="Globex secret trashed project")
    with tenant_context(globex):
        task_delete(task=trashed_task, actor=admin)
        project_delete(project=trashed_project, actor=admin)
    return Globex(
        admin=admin,
        member_membership=Membership.objects.get(organization=globex, user=member),
        project=project,
        task=task,
        trashed_task=trashed_task,
        trashed_project=trashed_project,
    )


GlobexRequest = Callable[[Globex, User], tuple[str, str, dict | None]]

FOREIGN_HOST_REQUESTS: list[tuple[str, GlobexRequest]] = [
    ("members-list", lambda g, u: ("get", "/api/members/", None)),
    ("members-detail", lambda g, u: ("get", f"/api/members/{g.member_membership.id}/", None)),
    ("members-create", lambda g, u: ("post", "/api/members/", {"email": u.email, "role": "ADMIN"})),
    (
        "members-update",
        lambda g, u: ("patch", f"/api/members/{g.member_membership.id}/", {"role": "ADMIN"}),
    ),
    ("members-delete", lambda g, u: ("delete", f"/api/members/{g.member_membership.id}/", None)),
    ("projects-list", lambda g, u: ("get", "/api/projects/", None)),
    ("projects-detail", lambda g, u: ("get", f"/api/projects/{g.project.id}/", None)),
    ("projects-create", lambda g, u: ("post", "/api/projects/", {"name": "Planted by acme"})),
    (
        "projects-patch",
        lambda g, u: ("patch", f"/api/projects/{g.project.id}/", {"name": "Renamed by acme"}),
    ),
    (
        "projects-put",
        lambda g, u: ("put", f"/api/projects/{g.project.id}/", {"name": "Replaced by acme"}),
    ),
    ("projects-delete", lambda g, u: ("delete", f"/api/projects/{g.project.id}/", None)),
    ("tasks-list", lambda g, u: ("get", "/api/tasks/", None)),
    ("tasks-detail", lambda g, u: ("get", f"/api/tasks/{g.task.id}/", None)),
    (
        "tasks-create",
        lambda g, u: ("post", "/api/tasks/", {"project": g.project.id, "title": "Planted"}),
    ),
    ("tasks-patch", lambda g, u: ("patch", f"/api/tasks/{g.task.id}/", {"status": "DONE"})),
    (
        "tasks-put",
        lambda g, u: (
            "put",
            f"/api/tasks/{g.task.id}/",
            {"project": g.project.id, "title": "Replaced"},
        ),
    ),
    ("tasks-delete", lambda g, u: ("delete", f"/api/tasks/{g.task.id}/", None)),
    ("tasks-trash", lambda g, u: ("get", "/api/tasks/?deleted=true", None)),
    ("tasks-restore", lambda g, u: ("post", f"/api/tasks/{g.trashed_task.id}/restore/", None)),
    ("tasks-activity", lambda g, u: ("get", f"/api/tasks/{g.task.id}/activity/", None)),
    ("projects-trash", lambda g, u: ("get", "/api/projects/?deleted=true", None)),
    (
        "projects-restore",
        lambda g, u: ("post", f"/api/projects/{g.trashed_project.id}/restore/", None),
    ),
    ("activity-list", lambda g, u: ("get", "/api/activity/", None)),
    ("activity-filtered", lambda g, u: ("get", f"/api/activity/?task={g.task.id}", None)),
]


@pytest.mark.parametrize(
    "request_for", [pytest.param(build, id=name) for name, build in FOREIGN_HOST_REQUESTS]
)
def test_an_acme_admin_is_refused_everywhere_on_globex_with_the_same_token(
    acme, globex, acme_admin, globex_data, request_for
):
    on_acme, on_globex = clients_sharing_one_token(acme_admin, acme, globex)
    assert on_acme.get("/api/projects/").status_code == 200  # the token itself is good
    method, url, body = request_for(globex_data, acme_admin)
    before = state_of(globex)

    send = getattr(on_globex, method)
    response = send(url) if body is None else send(url, body, format="json")

    assert response.status_code == 403, response.content
    assert "Globex secret" not in response.content.decode()
    assert state_of(globex) == before
    assert not Membership.objects.filter(organization=globex, user=acme_admin).exists()


# --- A member of both ---------------------------------------------------------------------------


def test_a_member_of_both_organizations_sees_each_organizations_own_data_on_its_host(acme, globex):
    user = make_member(acme, Role.MEMBER)
    Membership.objects.create(user=user, organization=globex, role=Role.MEMBER)
    author = make_user()
    acme_project = make_project(acme, created_by=author, name="Acme rocket skates")
    globex_project = make_project(globex, created_by=author, name="Globex doomsday device")
    acme_task = make_task(acme, project=acme_project, created_by=author, title="Test the skates")
    globex_task = make_task(
        globex, project=globex_project, created_by=author, title="Arm the device"
    )
    on_acme, on_globex = clients_sharing_one_token(user, acme, globex)

    acme_projects = {
        p["name"] for p in on_acme.get("/api/projects/?page_size=200").json()["results"]
    }
    globex_projects = {
        p["name"] for p in on_globex.get("/api/projects/?page_size=200").json()["results"]
    }
    acme_tasks = {t["title"] for t in on_acme.get("/api/tasks/?page_size=200").json()["results"]}
    globex_tasks = {
        t["title"] for t in on_globex.get("/api/tasks/?page_size=200").json()["results"]
    }

    assert "Acme rocket skates" in acme_projects and "Globex doomsday device" not in acme_projects
    assert (
        "Globex doomsday device" in globex_projects and "Acme rocket skates" not in globex_projects
    )
    assert "Test the skates" in acme_tasks and "Arm the device" not in acme_tasks
    assert "Arm the device" in globex_tasks and "Test the skates" not in globex_tasks
    with tenant_context(acme):
        assert acme_projects == set(Project.objects.values_list("name", flat=True))
        assert acme_tasks == set(Task.objects.values_list("title", flat=True))
    with tenant_context(globex):
        assert globex_projects == set(Project.objects.values_list("name", flat=True))
        assert globex_tasks == set(Task.objects.values_list("title", flat=True))
    # Each host's task points at its own project.
    assert on_acme.get(f"/api/tasks/{acme_task.id}/").json()["project"] == acme_project.id
    assert on_globex.get(f"/api/tasks/{globex_task.id}/").json()["project"] == globex_project.id


# --- Ids from another organization --------------------------------------------------------------


@pytest.fixture
def acme_only_objects(acme, acme_admin):
    """A project and a task whose ids exist in acme's schema but not in globex's."""
    project = project_only_in(acme, created_by=acme_admin, name="Acme-only project")
    task = task_only_in(acme, project=project, created_by=acme_admin, title="Acme-only task")
    return project, task


@pytest.mark.parametrize(
    ("method", "kind", "body"),
    [
        ("get", "projects", None),
        ("patch", "projects", {"name": "Hijacked"}),
        ("put", "projects", {"name": "Hijacked"}),
        ("delete", "projects", None),
        ("get", "tasks", None),
        ("patch", "tasks", {"title": "Hijacked"}),
        ("put", "tasks", {"project": None, "title": "Hijacked"}),
        ("delete", "tasks", None),
    ],
)
def test_an_acme_id_is_not_found_on_globex_even_for_its_admin(
    acme, globex, acme_only_objects, method, kind, body
):
    project, task = acme_only_objects
    target = project if kind == "projects" else task
    with tenant_context(globex):
        assert not (Project if kind == "projects" else Task).objects.filter(pk=target.pk).exists()
    globex_admin = make_member(globex, Role.ADMIN)
    client = client_for(globex_admin, globex)
    if body is not None and "project" in body:
        body = {**body, "project": make_project(globex, created_by=globex_admin).id}
    before_acme, before_globex = state_of(acme), state_of(globex)

    send = getattr(client, method)
    url = f"/api/{kind}/{target.pk}/"
    response = send(url) if body is None else send(url, body, format="json")

    assert response.status_code == 404, response.content
    assert "Acme-only" not in response.content.decode()
    assert state_of(acme) == before_acme
    assert state_of(globex) == before_globex


@pytest.mark.parametrize(
    ("method", "kind", "action", "trashed"),
    [
        ("post", "tasks", "restore", True),
        ("post", "projects", "restore", True),
        ("get", "tasks", "activity", False),
        ("get", "tasks", "activity", True),
    ],
)
def test_an_acme_id_is_not_found_by_globex_restore_and_activity(
    acme, globex, acme_admin, acme_only_objects, method, kind, action, trashed
):
    project, task = acme_only_objects
    if trashed:
        with tenant_context(acme):
            task_delete(task=task, actor=acme_admin)
            if kind == "projects":
                project_delete(project=project, actor=acme_admin)
    target = project if kind == "projects" else task
    client = client_for(make_member(globex, Role.ADMIN), globex)
    before_acme, before_globex = state_of(acme), state_of(globex)

    response = getattr(client, method)(f"/api/{kind}/{target.pk}/{action}/")

    assert response.status_code == 404, response.content
    assert "Acme-only" not in response.content.decode()
    assert state_of(acme) == before_acme
    assert state_of(globex) == before_globex


def test_the_activity_log_of_globex_never_lists_acme_entries(acme, globex, acme_admin):
    in_both = make_member(acme, Role.ADMIN)
    Membership.objects.create(user=in_both, organization=globex, role=Role.MEMBER)
    project = make_project(acme, created_by=in_both, name="Acme activity secret")
    make_task(acme, project=project, created_by=in_both, title="Acme activity task")
    on_acme, on_globex = clients_sharing_one_token(in_both, acme, globex)

    acme_rows = on_acme.get("/api/activity/", {"actor": "me"}).json()["results"]
    globex_response = on_globex.get("/api/activity/", {"page_size": 200})

    assert {row["target_label"] for row in acme_rows} == {
        "Acme activity secret",
        "Acme activity task",
    }
    assert globex_response.status_code == 200
    assert "Acme activity" not in globex_response.content.decode()
    assert on_globex.get("/api/activity/", {"actor": "me"}).json()["results"] == []
    with tenant_context(globex):
        assert not Activity.objects.filter(actor=in_both).exists()


def test_a_task_cannot_be_assigned_a_user_who_is_only_in_the_other_organization(
    acme, globex, acme_manager
):
    globex_only = make_member(globex, Role.MEMBER)
    project = make_project(acme, created_by=acme_manager)
    task = make_task(acme, project=project, created_by=acme_manager)
    client = client_for(acme_manager, acme)
    before = state_of(acme)

    created = client.post(
        "/api/tasks/",
        {"project": project.id, "title": "Smuggle", "assignee_ids": [globex_only.id]},
        format="json",
    )
    updated = client.patch(
        f"/api/tasks/{task.id}/", {"assignee_ids": [globex_only.id]}, format="json"
    )

    for response in (created, updated):
        assert response.status_code == 400, response.content
        assert list(response.json()) == ["assignee_ids"]
        assert str(globex_only.id) in response.json()["assignee_ids"][0]
    assert state_of(acme) == before


def test_a_project_of_the_other_organization_cannot_hold_a_new_task(acme, globex, acme_manager):
    globex_project = project_only_in(globex, created_by=make_user(), name="Globex-only project")
    with tenant_context(acme):
        assert not Project.objects.filter(pk=globex_project.pk).exists()
    client = client_for(acme_manager, acme)
    before_acme, before_globex = state_of(acme), state_of(globex)

    response = client.post(
        "/api/tasks/", {"project": globex_project.id, "title": "Misplaced"}, format="json"
    )

    assert response.status_code == 400, response.content
    assert list(response.json()) == ["project"]
    assert state_of(acme) == before_acme
    assert state_of(globex) == before_globex


def test_the_members_endpoint_of_globex_never_lists_acme_memberships(acme, globex, acme_admin):
    in_both = make_member(acme, Role.MANAGER)
    Membership.objects.create(user=in_both, organization=globex, role=Role.MEMBER)
    globex_admin = make_member(globex, Role.ADMIN)

    response = client_for(globex_admin, globex).get("/api/members/?page_size=200")

    assert response.status_code == 200
    listed = {row["id"] for row in response.json()["results"]}
    assert listed == set(
        Membership.objects.filter(organization=globex).values_list("id", flat=True)
    )
    assert not listed & set(
        Membership.objects.filter(organization=acme).values_list("id", flat=True)
    )
    assert acme_admin.email not in response.content.decode()
    # The user in both appears once, with their globex role.
    rows = [row for row in response.json()["results"] if row["user"]["id"] == in_both.id]
    assert [row["role"] for row in rows] == ["MEMBER"]


@pytest.mark.parametrize(
    ("method", "body"), [("get", None), ("patch", {"role": "MEMBER"}), ("delete", None)]
)
def test_an_acme_membership_id_is_not_found_on_globex(acme, globex, acme_admin, method, body):
    acme_membership = Membership.objects.get(organization=acme, user=acme_admin)
    globex_admin = make_member(globex, Role.ADMIN)
    client = client_for(globex_admin, globex)
    before_acme, before_globex = state_of(acme), state_of(globex)

    send = getattr(client, method)
    url = f"/api/members/{acme_membership.id}/"
    response = send(url) if body is None else send(url, body, format="json")

    assert response.status_code == 404, response.content
    assert acme_admin.email not in response.content.decode()
    assert state_of(acme) == before_acme
    assert state_of(globex) == before_globex
