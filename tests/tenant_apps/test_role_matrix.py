"""The role matrix of an organization's API, as one table: every endpoint x method x actor, the
exact status code, and what that request did (or did not do) to the organization's rows."""

import copy
import datetime
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django_tenants.utils import tenant_context

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Invitation, Membership, Organization, Role
from shared_apps.organizations.services import invitation_create
from tenant_apps.projects.models import Project
from tenant_apps.tasks.models import Task
from tests.factories import client_for, make_member, make_project, make_task, make_user

pytestmark = pytest.mark.django_db

ADMIN, MANAGER, MEMBER, OUTSIDER, ANONYMOUS = "ADMIN", "MANAGER", "MEMBER", "OUTSIDER", "ANONYMOUS"
ACTORS = (ADMIN, MANAGER, MEMBER, OUTSIDER, ANONYMOUS)


# --- The organization's state, before and after ---------------------------------------------


def snapshot(organization: Organization) -> dict:
    """Memberships and invitations (public schema) plus projects, tasks and assignments (the
    org's schema)."""
    memberships = {
        m.id: {"user": m.user_id, "role": m.role}
        for m in Membership.objects.filter(organization=organization)
    }
    invitations = {
        i.id: {"email": i.email, "role": i.role, "token_hash": i.token_hash}
        for i in Invitation.objects.filter(organization=organization)
    }
    with tenant_context(organization):
        projects = {
            p.id: {"name": p.name, "description": p.description, "created_by": p.created_by_id}
            for p in Project.objects.all()
        }
        tasks = {
            t.id: {
                "project": t.project_id,
                "title": t.title,
                "description": t.description,
                "status": t.status,
                "priority": t.priority,
                "due_date": t.due_date,
                "created_by": t.created_by_id,
                "assignees": frozenset(user.id for user in t.assignees.all()),
            }
            for t in Task.objects.prefetch_related("assignees")
        }
    return {
        "memberships": memberships,
        "invitations": invitations,
        "projects": projects,
        "tasks": tasks,
    }


# --- The people and objects every case acts on -------------------------------------------------


@dataclass
class World:
    organization: Organization
    users: dict[str, User | None]
    memberships: dict[str, Membership]  # acme memberships of ADMIN, MANAGER and MEMBER
    outsider_membership: Membership  # the OUTSIDER's membership, in globex
    spare: User  # a MEMBER of acme whom the cases edit and remove
    spare_membership: Membership
    newcomer: User  # an existing user who is not yet a member
    invitation: Invitation  # an open invitation of acme, which the cases resend and revoke
    project: Project
    own_task: Task  # assigned to the MEMBER actor
    other_task: Task  # assigned to someone else only

    def user(self, actor: str) -> User | None:
        return self.users[actor]

    def membership_of(self, actor: str) -> Membership:
        if actor == OUTSIDER:
            return self.outsider_membership
        return self.memberships[actor]


@pytest.fixture
def world(acme, globex, acme_admin, acme_manager, acme_member) -> World:
    """Acme with one user per role, an outsider (globex ADMIN), a spare member, a project and two tasks."""
    outsider = make_member(globex, Role.ADMIN)
    spare = make_member(acme, Role.MEMBER)
    project = make_project(acme, created_by=acme_admin, name="Matrix project")
    own_task = make_task(
        acme,
        project=project,
        created_by=acme_admin,
        title="Member's task",
        assignee_ids=[acme_member.id],
    )
    other_task = make_task(
        acme,
        project=project,
        created_by=acme_manager,
        title="Someone else's task",
        assignee_ids=[spare.id],
    )
    return World(
        organization=acme,
        users={
            ADMIN: acme_admin,
            MANAGER: acme_manager,
            MEMBER: acme_member,
            OUTSIDER: outsider,
            ANONYMOUS: None,
        },
        memberships={
            actor: Membership.objects.get(organization=acme, user=user)
            for actor, user in ((ADMIN, acme_admin), (MANAGER, acme_manager), (MEMBER, acme_member))
        },
        outsider_membership=Membership.objects.get(user=outsider, organization=globex),
        spare=spare,
        spare_membership=Membership.objects.get(user=spare, organization=acme),
        newcomer=make_user(),
        invitation=invitation_create(
            organization=acme, email="invited@test.example.com", role=Role.MANAGER, invited_by=None
        ),
        project=project,
        own_task=own_task,
        other_task=other_task,
    )


# --- The endpoints: where they go, what they send, what success does ---------------------------

# effect(expected_state, world, actor, response) turns the state before into the state a
# successful request must leave behind; refusals must leave the state exactly as it was.
Effect = Callable[[dict, World, str, object], None]


def no_effect(state, world, actor, response):
    pass


@dataclass(frozen=True)
class Endpoint:
    method: str
    url: str  # with {placeholders} from targets()
    body: dict | Callable[[World], dict] | None = None
    effect: Effect = no_effect


def targets(world: World, actor: str) -> dict[str, int]:
    """The ids that endpoint URLs point at."""
    own = world.membership_of(actor).id if actor != ANONYMOUS else None
    return {
        "spare_membership": world.spare_membership.id,
        "own_membership": own,
        "invitation": world.invitation.id,
        "project": world.project.id,
        "own_task": world.own_task.id,
        "other_task": world.other_task.id,
    }


def _new_row(table: dict, response) -> int:
    new_id = response.data["id"]
    assert new_id not in table, "a create must add a row, not overwrite one"
    return new_id


def add_invitation(state, world, actor, response):
    new_id = _new_row(state["invitations"], response)
    token_hash = Invitation.objects.get(pk=new_id).token_hash
    state["invitations"][new_id] = {
        "email": world.newcomer.email,
        "role": Role.MEMBER,
        "token_hash": token_hash,
    }


def renew_invitation(state, world, actor, response):
    token_hash = Invitation.objects.get(pk=world.invitation.id).token_hash
    state["invitations"][world.invitation.id]["token_hash"] = token_hash


def remove_invitation(state, world, actor, response):
    del state["invitations"][world.invitation.id]


def promote_spare(state, world, actor, response):
    state["memberships"][world.spare_membership.id]["role"] = Role.MANAGER


def _remove_membership(state, membership: Membership) -> None:
    """A membership goes, and with it its user's task assignments in this organization."""
    del state["memberships"][membership.id]
    for row in state["tasks"].values():
        row["assignees"] = row["assignees"] - {membership.user_id}


def remove_spare(state, world, actor, response):
    _remove_membership(state, world.spare_membership)


def remove_own_membership(state, world, actor, response):
    _remove_membership(state, world.membership_of(actor))


def add_project(state, world, actor, response):
    new_id = _new_row(state["projects"], response)
    state["projects"][new_id] = {
        "name": "Matrix project created",
        "description": "",
        "created_by": world.user(actor).id,
    }


def rename_project(state, world, actor, response):
    state["projects"][world.project.id]["name"] = "Matrix project renamed"


def replace_project(state, world, actor, response):
    state["projects"][world.project.id].update(
        name="Matrix project replaced", description="Replaced"
    )


def remove_project_and_its_tasks(state, world, actor, response):
    del state["projects"][world.project.id]
    for task_id in [
        tid for tid, row in state["tasks"].items() if row["project"] == world.project.id
    ]:
        del state["tasks"][task_id]


def add_task(state, world, actor, response):
    new_id = _new_row(state["tasks"], response)
    state["tasks"][new_id] = {
        "project": world.project.id,
        "title": "Matrix task created",
        "description": "",
        "status": "NEW",
        "priority": "MEDIUM",
        "due_date": None,
        "created_by": world.user(actor).id,
        "assignees": frozenset({world.users[MEMBER].id}),
    }


def change_task(which: str, **changes) -> Effect:
    def effect(state, world, actor, response):
        task = getattr(world, which)
        row = state["tasks"][task.id]
        for field, value in changes.items():
            row[field] = value(world) if callable(value) else value

    return effect


def remove_task(which: str) -> Effect:
    def effect(state, world, actor, response):
        del state["tasks"][getattr(world, which).id]

    return effect


def put_body(world: World) -> dict:
    return {
        "project": world.project.id,
        "title": "Put title",
        "description": "Put description",
        "status": "IN_PROGRESS",
        "priority": "HIGH",
        "due_date": "2026-12-31",
        "assignee_ids": [world.users[MANAGER].id],
    }


PUT_EFFECT = dict(
    title="Put title",
    description="Put description",
    status="IN_PROGRESS",
    priority="HIGH",
    due_date=datetime.date(2026, 12, 31),
    assignees=lambda world: frozenset({world.users[MANAGER].id}),
)

MEMBERS = "/api/members/"
INVITATIONS = "/api/invitations/"
INVITATION_URL = "/api/invitations/{invitation}/"
MEMBER_URL = "/api/members/{spare_membership}/"
OWN_MEMBER_URL = "/api/members/{own_membership}/"
PROJECTS = "/api/projects/"
PROJECT_URL = "/api/projects/{project}/"
TASKS = "/api/tasks/"
OWN_TASK_URL = "/api/tasks/{own_task}/"
OTHER_TASK_URL = "/api/tasks/{other_task}/"

ENDPOINTS: dict[str, Endpoint] = {
    # Members
    "members-list": Endpoint("GET", MEMBERS),
    "members-detail": Endpoint("GET", MEMBER_URL),
    "members-create": Endpoint(
        "POST", MEMBERS, lambda w: {"email": w.newcomer.email, "role": "MEMBER"}, add_invitation
    ),
    "members-update": Endpoint("PATCH", MEMBER_URL, {"role": "MANAGER"}, promote_spare),
    "members-delete": Endpoint("DELETE", MEMBER_URL, effect=remove_spare),
    # Leaving. The OUTSIDER targets their own (globex) membership, and is refused here.
    "members-leave": Endpoint("DELETE", OWN_MEMBER_URL, effect=remove_own_membership),
    # Invitations (created with POST /api/members/)
    "invitations-list": Endpoint("GET", INVITATIONS),
    "invitations-resend": Endpoint("POST", INVITATION_URL + "resend/", effect=renew_invitation),
    "invitations-delete": Endpoint("DELETE", INVITATION_URL, effect=remove_invitation),
    # Projects
    "projects-list": Endpoint("GET", PROJECTS),
    "projects-detail": Endpoint("GET", PROJECT_URL),
    "projects-create": Endpoint("POST", PROJECTS, {"name": "Matrix project created"}, add_project),
    "projects-patch": Endpoint(
        "PATCH", PROJECT_URL, {"name": "Matrix project renamed"}, rename_project
    ),
    "projects-put": Endpoint(
        "PUT",
        PROJECT_URL,
        {"name": "Matrix project replaced", "description": "Replaced"},
        replace_project,
    ),
    "projects-delete": Endpoint("DELETE", PROJECT_URL, effect=remove_project_and_its_tasks),
    # Tasks ("own" = assigned to the MEMBER actor; "other" = not assigned to them)
    "tasks-list": Endpoint("GET", TASKS),
    "tasks-detail": Endpoint("GET", OTHER_TASK_URL),
    "tasks-create": Endpoint(
        "POST",
        TASKS,
        lambda w: {
            "project": w.project.id,
            "title": "Matrix task created",
            "assignee_ids": [w.users[MEMBER].id],
        },
        add_task,
    ),
    "tasks-patch-own-status": Endpoint(
        "PATCH", OWN_TASK_URL, {"status": "DONE"}, change_task("own_task", status="DONE")
    ),
    "tasks-patch-other-status": Endpoint(
        "PATCH", OTHER_TASK_URL, {"status": "DONE"}, change_task("other_task", status="DONE")
    ),
    "tasks-patch-own-title": Endpoint(
        "PATCH", OWN_TASK_URL, {"title": "Retitled"}, change_task("own_task", title="Retitled")
    ),
    "tasks-patch-own-status-and-title": Endpoint(
        "PATCH",
        OWN_TASK_URL,
        {"status": "DONE", "title": "Retitled"},
        change_task("own_task", status="DONE", title="Retitled"),
    ),
    "tasks-patch-own-status-and-assignees": Endpoint(
        "PATCH",
        OWN_TASK_URL,
        lambda w: {"status": "DONE", "assignee_ids": [w.users[MEMBER].id, w.users[MANAGER].id]},
        change_task(
            "own_task",
            status="DONE",
            assignees=lambda w: frozenset({w.users[MEMBER].id, w.users[MANAGER].id}),
        ),
    ),
    "tasks-patch-other-title": Endpoint(
        "PATCH", OTHER_TASK_URL, {"title": "Retitled"}, change_task("other_task", title="Retitled")
    ),
    "tasks-put-own": Endpoint("PUT", OWN_TASK_URL, put_body, change_task("own_task", **PUT_EFFECT)),
    "tasks-put-other": Endpoint(
        "PUT", OTHER_TASK_URL, put_body, change_task("other_task", **PUT_EFFECT)
    ),
    "tasks-delete-own": Endpoint("DELETE", OWN_TASK_URL, effect=remove_task("own_task")),
    "tasks-delete-other": Endpoint("DELETE", OTHER_TASK_URL, effect=remove_task("other_task")),
}

# fmt: off
MATRIX = [
    # endpoint                               ADMIN MANAGER MEMBER OUTSIDER ANONYMOUS
    ("members-list",                          200,  200,    200,   403,     401),
    ("members-detail",                        200,  200,    200,   403,     401),
    ("members-create",                        201,  403,    403,   403,     401),
    ("members-update",                        200,  403,    403,   403,     401),
    ("members-delete",                        204,  403,    403,   403,     401),
    ("members-leave",                         204,  204,    204,   403,     None),
    ("invitations-list",                      200,  403,    403,   403,     401),
    ("invitations-resend",                    200,  403,    403,   403,     401),
    ("invitations-delete",                    204,  403,    403,   403,     401),
    ("projects-list",                         200,  200,    200,   403,     401),
    ("projects-detail",                       200,  200,    200,   403,     401),
    ("projects-create",                       201,  201,    403,   403,     401),
    ("projects-patch",                        200,  200,    403,   403,     401),
    ("projects-put",                          200,  200,    403,   403,     401),
    ("projects-delete",                       204,  403,    403,   403,     401),
    ("tasks-list",                            200,  200,    200,   403,     401),
    ("tasks-detail",                          200,  200,    200,   403,     401),
    ("tasks-create",                          201,  201,    403,   403,     401),
    ("tasks-patch-own-status",                200,  200,    200,   403,     401),
    ("tasks-patch-other-status",              200,  200,    403,   403,     401),
    ("tasks-patch-own-title",                 200,  200,    403,   403,     401),
    ("tasks-patch-own-status-and-title",      200,  200,    403,   403,     401),
    ("tasks-patch-own-status-and-assignees",  200,  200,    403,   403,     401),
    ("tasks-patch-other-title",               200,  200,    403,   403,     401),
    ("tasks-put-own",                         200,  200,    403,   403,     401),
    ("tasks-put-other",                       200,  200,    403,   403,     401),
    ("tasks-delete-own",                      204,  204,    403,   403,     401),
    ("tasks-delete-other",                    204,  204,    403,   403,     401),
]
# fmt: on

CASES = [
    pytest.param(name, actor, expected, id=f"{name}-{actor}")
    for name, *expected_by_actor in MATRIX
    for actor, expected in zip(ACTORS, expected_by_actor, strict=True)
    if expected is not None  # an anonymous caller has no membership to leave
]
assert sorted(name for name, *_ in MATRIX) == sorted(ENDPOINTS), "one row per endpoint"


def _check_read(name: str, world: World, response) -> None:
    """A successful read returns the target object, or a page that contains it."""
    data = response.json()
    expected_ids = {
        "members-list": world.spare_membership.id,
        "members-detail": world.spare_membership.id,
        "invitations-list": world.invitation.id,
        "projects-list": world.project.id,
        "projects-detail": world.project.id,
        "tasks-list": world.other_task.id,
        "tasks-detail": world.other_task.id,
    }
    if name.endswith("-list"):
        assert set(data) == {"next", "previous", "results"}
        assert expected_ids[name] in {row["id"] for row in data["results"]}
    else:
        assert data["id"] == expected_ids[name]


@pytest.mark.parametrize(("name", "actor", "expected_status"), CASES)
def test_role_matrix(world, name, actor, expected_status):
    endpoint = ENDPOINTS[name]
    client = client_for(world.user(actor), world.organization)
    url = endpoint.url.format(**targets(world, actor))
    body = endpoint.body(world) if callable(endpoint.body) else endpoint.body
    before = snapshot(world.organization)

    send = getattr(client, endpoint.method.lower())
    response = send(url) if body is None else send(url, body, format="json")

    assert response.status_code == expected_status, response.content
    expected_state = copy.deepcopy(before)
    if 200 <= expected_status < 300:
        endpoint.effect(expected_state, world, actor, response)
        if endpoint.method == "GET":
            _check_read(name, world, response)
        else:
            assert expected_state != before, "a successful write must change something"
    else:
        assert "detail" in response.json()
    assert snapshot(world.organization) == expected_state
