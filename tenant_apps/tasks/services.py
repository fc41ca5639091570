"""Writes for tasks in the current organization's schema."""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import connection, transaction

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Membership, Organization
from tenant_apps.projects.models import Project

from .models import Priority, Status, Task

NOT_MEMBERS = "These users are not members of this organization: {ids}."
EDITABLE_FIELDS = ("project", "title", "description", "status", "priority", "due_date")


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
    """Apply the editable fields present in `data`; `assignee_ids` replaces the assignees."""
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


def task_unassign_user(*, user_id: int) -> int:
    """Remove one user from every task of the current organization; returns how many."""
    deleted, _ = Task.assignees.through.objects.filter(user_id=user_id).delete()
    return deleted
