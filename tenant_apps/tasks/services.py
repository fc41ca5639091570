"""Writes for tasks in the current organization's schema."""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.http import Http404

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Membership, Organization
from tenant_apps.projects.models import Project

from .models import Priority, Status, Task

NOT_MEMBERS = "These users are not members of this organization: {ids}."
PROJECT_GONE = "This project no longer exists."
TASK_GONE = "This task no longer exists."
EDITABLE_FIELDS = ("project", "title", "description", "status", "priority", "due_date")


def _lock_projects(project_ids) -> set[int]:
    """Keep these projects from being deleted until this transaction ends; returns the ids
    that still exist.

    FOR KEY SHARE, as for assignees: task writes do not block each other, but project_delete
    (which locks its project FOR UPDATE before collecting the tasks) waits, then deletes the
    tasks committed here too. Without it a task written into a project being deleted failed
    its foreign key at commit: a 500.
    """
    ids = sorted(set(project_ids))
    table = connection.ops.quote_name(Project._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table} WHERE id = ANY(%s) FOR KEY SHARE", [ids])
        return {row[0] for row in cursor.fetchall()}


def _lock_target_project(project: Project, *also_lock: int) -> None:
    """Lock `project` (and the projects `also_lock`); a 400 naming `project` if it is gone."""
    if project.pk not in _lock_projects([project.pk, *also_lock]):
        raise ValidationError({"project": [PROJECT_GONE]}, code="does_not_exist")


def _validate_assignees(*, organization: Organization, assignee_ids) -> list[int]:
    """Check every id is a member, and keep those memberships from being removed until this
    transaction ends (FOR KEY SHARE: concurrent task writes do not block each other, but a
    removal waits, then unassigns what was committed here)."""
    ids = sorted(set(assignee_ids))
    if not ids:
        return []
    table = connection.ops.quote_name(Membership._meta.db_table)
    with connection.cursor() as cursor:
        # The ORM has no FOR KEY SHARE (select_for_update would serialize all task writes).
        cursor.execute(
            f"SELECT user_id FROM {table}"
            " WHERE organization_id = %s AND user_id = ANY(%s) FOR KEY SHARE",
            [organization.pk, ids],
        )
        members = {row[0] for row in cursor.fetchall()}
    missing = [user_id for user_id in ids if user_id not in members]
    if missing:
        raise ValidationError(
            {"assignee_ids": [NOT_MEMBERS.format(ids=", ".join(map(str, missing)))]},
            code="not_member",
        )
    return ids


@transaction.atomic
def task_create(
    *,
    organization: Organization,
    project: Project,
    title: str,
    created_by: User,
    description: str = "",
    status: str = Status.NEW,
    priority: str = Priority.MEDIUM,
    due_date: date | None = None,
    assignee_ids=(),
) -> Task:
    """Create a task; every assignee must be a member of `organization`."""
    _lock_target_project(project)
    ids = _validate_assignees(organization=organization, assignee_ids=assignee_ids)
    task = Task(
        project=project,
        title=title.strip(),
        description=description,
        status=status,
        priority=priority,
        due_date=due_date,
        created_by=created_by,
    )
    task.clean_fields(exclude=["project", "created_by", "priority_rank"])
    task.save()
    if ids:
        task.assignees.set(ids)
    return task


@transaction.atomic
def task_update(*, organization: Organization, task: Task, data: dict) -> Task:
    """Apply the editable fields present in `data`; `assignee_ids` replaces the assignees.

    Locks first the projects (in project_delete's order, so the two cannot deadlock), then the
    task: 404 if a concurrent request deleted it, 400 if the target project is gone.
    """
    if "project" in data:
        # The current project too: its deletion must not collect this task while it moves out.
        _lock_target_project(data["project"], task.project_id)
    if not Task.objects.select_for_update(no_key=True).filter(pk=task.pk).exists():
        raise Http404(TASK_GONE)
    fields = [field for field in EDITABLE_FIELDS if field in data]
    for field in fields:
        value = data[field]
        setattr(task, field, value.strip() if field == "title" else value)
    if fields:
        task.clean_fields(exclude=["project", "created_by", "priority_rank"])
        task.save(update_fields=[*fields, "updated_at"])
    if "assignee_ids" in data:
        task.assignees.set(
            _validate_assignees(organization=organization, assignee_ids=data["assignee_ids"])
        )
    return task


def task_delete(*, task: Task) -> None:
    """Delete a task and its assignments."""
    task.delete()


def task_unassign_user(*, user_id: int, actor: User | None = None) -> int:
    """Remove one user from every task of the current organization (they left it, or were
    removed by `actor`); returns how many assignments ended."""
    deleted, _ = Task.assignees.through.objects.filter(user_id=user_id).delete()
    return deleted
