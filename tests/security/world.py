"""Each organization with one object of every kind, and ids that exist in one organization
only: what the security tests send requests about."""

import itertools
from dataclasses import dataclass, field

from django.db.models import Max
from django_tenants.utils import tenant_context

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Invitation, Membership, Organization, Role
from shared_apps.organizations.services import invitation_create
from tenant_apps.exports.files import export_path
from tenant_apps.exports.models import Export, ExportStatus
from tenant_apps.projects.models import Project
from tenant_apps.projects.services import project_create, project_delete
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.services import task_create, task_delete
from tests.factories import make_member

ROLES = (Role.ADMIN, Role.MANAGER, Role.MEMBER)
TENANT_MODELS = (Project, Task, Export)
_invitees = itertools.count(1)


@dataclass
class OrgWorld:
    """An organization with a user per role plus a spare MEMBER, each with their own task
    (assigned to them) and finished export; a project; in the trash a task and a project; a
    pending invitation. Every text starts with the organization's `marker`."""

    organization: Organization
    marker: str
    users: dict[str, User]  # per role, and "spare"
    memberships: dict[str, Membership]
    project: Project
    tasks: dict[str, Task]  # per role, and "spare": assigned to that user
    exports: dict[str, Export]  # per role, and "spare": requested by that user, done
    trashed_task: Task
    trashed_project: Project
    invitation: Invitation
    # {model: id} of one live object per model, for detail URLs.
    ids: dict = field(default_factory=dict)

    @property
    def host(self) -> str:
        return self.organization.domain

    def schema(self) -> str:
        return self.organization.schema_name

    def remove_files(self) -> None:
        """Delete the export files written for it (the rows go with the test's rollback)."""
        with tenant_context(self.organization):
            for export in self.exports.values():
                export_path(export.pk).unlink(missing_ok=True)


def every_row(model):
    """The model's manager that includes the trash (`all_objects`) where it has one."""
    return getattr(model, "all_objects", model.objects)


def _next_id(model, floor: int) -> int | None:
    """An id above every id of `model` in acme and globex (ids are per schema), or None."""
    if not floor:
        return None
    top = 0
    for slug in ("acme", "globex"):
        with tenant_context(Organization.objects.get(slug=slug)):
            top = max(top, every_row(model).aggregate(top=Max("id"))["top"] or 0)
    return max(top + 1, floor)


def build_world(organization: Organization, marker: str, *, foreign_ids: bool) -> OrgWorld:
    """The world of one organization, through the services (activity entries included). With
    `foreign_ids`, its projects, tasks and exports are inserted with ids that the other test
    organization does not use."""
    users = {role: make_member(organization, role, full_name=f"{marker} {role}") for role in ROLES}
    users["spare"] = make_member(organization, Role.MEMBER, full_name=f"{marker} spare")
    memberships = {
        key: Membership.objects.get(organization=organization, user=user)
        for key, user in users.items()
    }
    floor = 100_000 if foreign_ids else 0
    admin = users[Role.ADMIN]

    def create(model, **fields):
        return every_row(model).create(id=_next_id(model, floor), **fields)

    def new_project(name):
        if foreign_ids:
            return create(Project, name=name, created_by=admin)
        return project_create(name=name, created_by=admin)

    def new_task(project, title, assignees=()):
        if foreign_ids:
            task = create(Task, project=project, title=title, created_by=admin)
            task.assignees.set(assignees)
            return task
        return task_create(
            organization=organization,
            project=project,
            title=title,
            created_by=admin,
            assignee_ids=[user.pk for user in assignees],
        )

    with tenant_context(organization):
        project = new_project(f"{marker} project")
        tasks = {
            key: new_task(project, f"{marker} task of {key}", [user]) for key, user in users.items()
        }
        trashed_project = new_project(f"{marker} trashed project")
        new_task(trashed_project, f"{marker} task of a trashed project")
        project_delete(project=trashed_project, actor=admin)
        trashed_task = new_task(project, f"{marker} trashed")
        task_delete(task=trashed_task, actor=admin)
        exports = {}
        for key, user in users.items():
            exports[key] = create(
                Export, created_by=user, status=ExportStatus.DONE, rows_written=1, rows_total=1
            )
            path = export_path(exports[key].pk)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"id,title\n1,{marker} exported\n")
    invitation = invitation_create(
        organization=organization,
        email=f"invitee{next(_invitees)}-{organization.slug}@test.example.com",
        role=Role.MEMBER,
        invited_by=admin,
    )
    world = OrgWorld(
        organization=organization,
        marker=marker,
        users=users,
        memberships=memberships,
        project=project,
        tasks=tasks,
        exports=exports,
        trashed_task=trashed_task,
        trashed_project=trashed_project,
        invitation=invitation,
    )
    world.ids = {
        Membership: memberships["spare"].pk,
        Invitation: invitation.pk,
        Project: project.pk,
        Task: tasks["spare"].pk,
        Export: exports["spare"].pk,
    }
    return world
