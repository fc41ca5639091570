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
from tenant_apps.projects.services import project_delete
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.services import task_delete
from tests.factories import client_for, make_member, make_project, make_task, make_user

pytestmark = pytest.mark.django_db

ADMIN, MANAGER, MEMBER, OUTSIDER, ANONYMOUS = "ADMIN", "MANAGER", "MEMBER", "OUTSIDER", "ANONYMOUS"
ACTORS = (ADMIN, MANAGER, MEMBER, OUTSIDER, ANONYMOUS)


# --- The organization's state, before and after ---------------------------------------------


def snapshot(organization: Organization) -> dict:
    """Memberships and invitations (public schema) plus projects, tasks and assignments (the
    org's schema), trashed ones included (`deleted`)."""
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
            p.id: {
                "name": p.name,
                "description": p.description,
                "created_by": p.created_by_id,
                "deleted": p.deleted_at is not None,
            }
            for p in Project.all_objects.all()
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
                "deleted": t.deleted_at is not None,
            }
            for t in Task.all_objects.prefetch_related("assignees")
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
    trashed_task: Task  # in `project`, deleted on its own
    trashed_project: Project  # deleted, with its one task

    def user(self, actor: str) -> User | None:
        return self.users[actor]

    def membership_of(self, actor: str) -> Membership:
        if actor == OUTSIDER:
            return self.outsider_membership
        return self.memberships[actor]


@pytest.fixture
def world(acme, globex, acme_admin, acme_manager, acme_member) -> World:
    """Acme with one user per role, an outsider (globex ADMIN), a spare member, a project and two
    tasks; in the trash, a task of that project and another project with its task."""
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
    trashed_task = make_task(acme, project=project, created_by=acme_manager, title="Trashed task")
    trashed_project = make_project(acme, created_by=acme_admin, name="Trashed project")
    make_task(acme, project=trashed_project, created_by=acme_admin, title="Went with it")
    with tenant_context(acme):
        task_delete(task=trashed_task, actor=acme_manager)
        project_delete(project=trashed_project, actor=acme_admin)
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
        trashed_task=trashed_task,
        trashed_project=trashed_project,
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
        "trashed_task": world.trashed_task.id,
        "trashed_project": world.trashed_project.id,
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
        "deleted": False,
    }


def rename_project(state, world, actor, response):
    state["projects"][world.project.id]["name"] = "Matrix project renamed"


def replace_project(state, world, actor, response):
    state["projects"][world.project.id].update(
        name="Matrix project replaced", description="Replaced"
    )


def trash_project_and_its_tasks(state, world, actor, response):
    state["projects"][world.project.id]["deleted"] = True
    for row in state["tasks"].values():
        if row["project"] == world.project.id:
            row["deleted"] = True


def restore_trashed_project(state, world, actor, response):
    """The project comes back with the task that went with it (not with others)."""
    state["projects"][world.trashed_project.id]["deleted"] = False
    for row in state["tasks"].values():
        if row["project"] == world.trashed_project.id:
            row["deleted"] = False


def restore_trashed_task(state, world, actor, response):
    state["tasks"][world.trashed_task.id]["deleted"] = False


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
        "deleted": False,
    }


def change_task(which: str, **changes) -> Effect:
    def effect(state, world, actor, response):
        task = getattr(world, which)
        row = state["tasks"][task.id]
        for field, value in changes.items():
            row[field] = value(world) if callable(value) else value

    return effect


def trash_task(which: str) -> Effect:
    def effect(state, world, actor, response):
        state["tasks"][getattr(world, which).id]["deleted"] = True

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
    "projects-delete": Endpoint("DELETE", PROJECT_URL, effect=trash_project_and_its_tasks),
    "projects-trash": Endpoint("GET", PROJECTS + "?deleted=true"),
    "projects-restore": Endpoint(
        "POST", "/api/projects/{trashed_project}/restore/", effect=restore_trashed_project
    ),
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
    "tasks-delete-own": Endpoint("DELETE", OWN_TASK_URL, effect=trash_task("own_task")),
    "tasks-delete-other": Endpoint("DELETE", OTHER_TASK_URL, effect=trash_task("other_task")),
    "tasks-trash": Endpoint("GET", TASKS + "?deleted=true"),
    "tasks-restore": Endpoint(
        "POST", "/api/tasks/{trashed_task}/restore/", effect=restore_trashed_task
    ),
    # Activity: read-only for everyone
    "activity-list": Endpoint("GET", "/api/activity/"),
    "activity-post": Endpoint("POST", "/api/activity/", {"verb": "deleted"}),
    "tasks-activity": Endpoint("GET", OTHER_TASK_URL + "activity/"),
    "tasks-activity-post": Endpoint("POST", OTHER_TASK_URL + "activity/", {"verb": "deleted"}),
    # Dashboard
    "dashboard": Endpoint("GET", "/api/dashboard/"),
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
    ("projects-trash",                        200,  200,    403,   403,     401),
    ("projects-restore",                      200,  403,    403,   403,     401),
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
    ("tasks-trash",                           200,  200,    403,   403,     401),
    ("tasks-restore",                         200,  200,    403,   403,     401),
    ("activity-list",                         200,  200,    200,   403,     401),
    ("activity-post",                         405,  405,    405,   405,     405),
    ("tasks-activity",                        200,  200,    200,   403,     401),
    ("tasks-activity-post",                   405,  405,    405,   405,     405),
    ("dashboard",                             200,  200,    200,   403,     401),
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
    """A successful read returns the target object, or a page that contains it (the
    dashboard: figures that count the world's project and its two tasks)."""
    data = response.json()
    if name == "dashboard":
        assert response["X-Cache"] in {"HIT", "MISS"}
        assert {"id": world.project.id, "name": world.project.name} in [
            {"id": p["id"], "name": p["name"]} for p in data["projects"]
        ]
        assert sum(data["by_status"].values()) == 2
        return
    if name in ("activity-list", "tasks-activity"):
        # The log pages hold the other task's entries (its creation at least); the task's own
        # page holds nothing else.
        assert set(data) == {"next", "previous", "results"}
        targets = {(row["target_type"], row["target_id"]) for row in data["results"]}
        assert ("task", world.other_task.id) in targets
        if name == "tasks-activity":
            assert targets == {("task", world.other_task.id)}
        return
    expected_ids = {
        "members-list": world.spare_membership.id,
        "members-detail": world.spare_membership.id,
        "invitations-list": world.invitation.id,
        "projects-list": world.project.id,
        "projects-detail": world.project.id,
        "projects-trash": world.trashed_project.id,
        "tasks-list": world.other_task.id,
        "tasks-detail": world.other_task.id,
        "tasks-trash": world.trashed_task.id,
    }
    # Live lists never show the trash, and the trash shows nothing live.
    hidden_ids = {
        "projects-list": world.trashed_project.id,
        "projects-trash": world.project.id,
        "tasks-list": world.trashed_task.id,
        "tasks-trash": world.other_task.id,
    }
    if name.endswith(("-list", "-trash")):
        assert set(data) == {"next", "previous", "results"}
        listed = {row["id"] for row in data["results"]}
        assert expected_ids[name] in listed
        if name in hidden_ids:
            assert hidden_ids[name] not in listed
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
