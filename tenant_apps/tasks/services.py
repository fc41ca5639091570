"""Writes for tasks in the current organization's schema, each with its activity entries."""

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Membership, Organization
from tenant_apps.activity.models import Activity, TargetType, Verb
from tenant_apps.activity.services import (
    activity_record_many,
    change_counter_bump,
    changes_between,
    clip,
    user_ref,
)
from tenant_apps.projects.models import Project
from tenant_apps.projects.services import PROJECT_GONE

from .models import Priority, Status, Task

NOT_MEMBERS = "These users are not members of this organization: {ids}."
TASK_GONE = "This task no longer exists."
TASK_NOT_IN_TRASH = "This task is not in the trash."
PROJECT_IN_TRASH = "This task's project is in the trash: restore the project first."
EDITABLE_FIELDS = ("project", "title", "description", "status", "priority", "due_date")
# Text fields whose diffs are cut (see activity.services.clip).
LONG_TEXT_FIELDS = ("description",)


def _lock_projects(project_ids) -> set[int]:
    """Keep these projects from being deleted until this transaction ends; returns the ids
    that are still live (a project in the trash counts as gone: no task may enter it).

    FOR KEY SHARE, as for assignees: task writes do not block each other, but project_delete
    (which locks its project FOR UPDATE before collecting the tasks) waits, then deletes the
    tasks committed here too. Without it a task written into a project being deleted failed
    its foreign key at commit: a 500.
    """
    ids = sorted(set(project_ids))
    table = connection.ops.quote_name(Project._meta.db_table)
    with connection.cursor() as cursor:
        # A deletion that committed while this waited fails the re-check of deleted_at.
        cursor.execute(
            f"SELECT id FROM {table} WHERE id = ANY(%s) AND deleted_at IS NULL FOR KEY SHARE",
            [ids],
        )
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


def _entry(task: Task, verb: Verb, actor: User | None, changes: dict | None = None) -> Activity:
    return Activity(
        actor=actor,
        verb=verb,
        target_type=TargetType.TASK,
        target_id=task.pk,
        target_label=task.title,
        project_id=task.project_id,
        changes=changes or {},
    )


def _values(task: Task, fields: Iterable[str]) -> dict:
    """The tracked fields' values as compared and recorded (the project as its id)."""
    return {field: getattr(task, "project_id" if field == "project" else field) for field in fields}


def _diff(before: dict, after: dict) -> dict:
    """`{field: [old, new]}` of what changed, long text cut for the record."""
    changes = changes_between(before, after)
    for field in LONG_TEXT_FIELDS:
        if field in changes:
            changes[field] = [clip(value) for value in changes[field]]
    return changes


def _assignment_entries(
    task: Task, actor: User | None, *, added: Iterable[int] = (), removed: Iterable[int] = ()
) -> list[Activity]:
    """One `assigned` / `unassigned` entry per user, naming them by id and email."""
    added, removed = sorted(added), sorted(removed)
    if not added and not removed:
        return []
    users = {user.pk: user for user in User.objects.filter(pk__in=[*added, *removed]).only("email")}
    return [
        *(
            _entry(task, Verb.ASSIGNED, actor, {"assignee": [None, user_ref(users[pk])]})
            for pk in added
        ),
        *(
            _entry(task, Verb.UNASSIGNED, actor, {"assignee": [user_ref(users[pk]), None]})
            for pk in removed
        ),
    ]


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
    """Create a task; every assignee must be a member of `organization`. The creator is the
    actor of its `created` and `assigned` entries."""
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
    # Initial values as [null, value]; fields left empty are not listed.
    initial = {k: v for k, v in _values(task, EDITABLE_FIELDS).items() if v not in (None, "")}
    created = _diff({}, initial)
    activity_record_many(
        [
            _entry(task, Verb.CREATED, created_by, created),
            *_assignment_entries(task, created_by, added=ids),
        ]
    )
    return task


@transaction.atomic
def task_update(
    *, organization: Organization, task: Task, data: dict, actor: User | None = None
) -> Task:
    """Apply the editable fields present in `data`; `assignee_ids` replaces the assignees.

    Records an `updated` entry with what changed (old and new values; nothing changed, no
    entry and no write) and one `assigned`/`unassigned` entry per assignee added or removed.
    Locks first the projects (in project_delete's order, so the two cannot deadlock), then the
    new assignees' memberships, then the task: 404 if a concurrent request deleted it, 400 if
    the target project is gone. (Memberships before the task: a member's removal holds the
    membership, then waits for the tasks assigned to them; see task_unassign_user.)
    """
    if "project" in data:
        # The current project too: its deletion must not collect this task while it moves out.
        _lock_target_project(data["project"], task.project_id)
    if "assignee_ids" in data:
        wanted = set(
            _validate_assignees(organization=organization, assignee_ids=data["assignee_ids"])
        )
    fields = [field for field in EDITABLE_FIELDS if field in data]
    # The row as it is now, locked: the "old" values are the ones this update replaces.
    tracked = {"title", "project_id", *fields} - {"project"}
    try:
        current = Task.objects.select_for_update(no_key=True).values(*tracked).get(pk=task.pk)
    except Task.DoesNotExist:
        raise Http404(TASK_GONE) from None
    current["project"] = current.pop("project_id")
    for field in fields:
        value = data[field]
        setattr(task, field, value.strip() if field == "title" else value)
    # The entries name the task's title and project as they are now (or become).
    if "title" not in fields:
        task.title = current["title"]
    if "project" not in fields:
        task.project_id = current["project"]
    entries = []
    if fields:
        # Only what this update sets (the rest is as validated when it was written); the
        # project was checked by its lock above.
        checked = set(fields) - {"project"}
        task.clean_fields(exclude=[f.name for f in Task._meta.fields if f.name not in checked])
        changes = _diff({field: current[field] for field in fields}, _values(task, fields))
        if changes:
            task.save(update_fields=[*changes, "updated_at"])
            entries.append(_entry(task, Verb.UPDATED, actor, changes))
    if "assignee_ids" in data:
        through = Task.assignees.through
        assigned = set(through.objects.filter(task_id=task.pk).values_list("user_id", flat=True))
        added, removed = wanted - assigned, assigned - wanted
        if removed:
            through.objects.filter(task_id=task.pk, user_id__in=removed).delete()
        if added:
            through.objects.bulk_create(through(task_id=task.pk, user_id=pk) for pk in added)
        entries += _assignment_entries(task, actor, added=added, removed=removed)
    activity_record_many(entries)
    return task


@transaction.atomic
def task_delete(*, task: Task, actor: User | None = None) -> None:
    """Put a task in the trash (its assignments stay, for a restore); 404 if it is gone or
    already in the trash (a concurrent delete: the row lock makes the second one wait)."""
    current = (
        Task.objects.select_for_update(no_key=True)
        .only("title", "project_id")
        .filter(pk=task.pk)
        .first()
    )
    if current is None:
        raise Http404(TASK_GONE)
    Task.all_objects.filter(pk=task.pk).update(
        deleted_at=timezone.now(), deleted_by=actor, deleted_with_project=False
    )
    activity_record_many([_entry(current, Verb.DELETED, actor)])


@transaction.atomic
def task_restore(*, task: Task, actor: User | None = None) -> Task:
    """Take a task out of the trash, with the assignees it had.

    A task of a project in the trash stays there (400): restoring the project restores the
    tasks deleted with it. 404 if it is not in the trash (restored or purged meanwhile).
    """
    # The project first, as every task write does: a deletion of it waits for this restore,
    # then takes the restored task to the trash with it.
    project_live = bool(_lock_projects([task.project_id]))
    current = (
        Task.all_objects.select_for_update(no_key=True)
        .filter(pk=task.pk, deleted_at__isnull=False)
        .first()
    )
    if current is None:
        raise Http404(TASK_NOT_IN_TRASH)
    if not project_live:
        raise ValidationError(PROJECT_IN_TRASH, code="project_in_trash")
    Task.all_objects.filter(pk=task.pk).update(
        deleted_at=None, deleted_by=None, deleted_with_project=False
    )
    activity_record_many([_entry(current, Verb.RESTORED, actor)])
    current.deleted_at = current.deleted_by = None
    return current


def task_unassign_user(*, user_id: int, actor: User | None = None) -> int:
    """Remove one user from every task of the current organization (they left it, or were
    removed by `actor`), trashed tasks included; returns how many assignments ended. Each
    ended assignment is an `unassigned` entry."""
    assignments = Task.assignees.through.objects.filter(user_id=user_id)
    # The tasks first, in id order, as every write of several tasks locks them (project trash
    # and restore, the purge): the assignment rows go after, so this never holds an assignment
    # that a task write holding its task waits for (the dashboard's count triggers lock the
    # tasks of the assignments they count, see migration tasks 0005).
    tasks = list(
        Task.all_objects.select_for_update(no_key=True)
        .filter(pk__in=assignments.values("task_id"))
        .order_by("pk")
        .only("title", "project_id")
    )
    deleted, _ = assignments.delete()
    if tasks:
        former = user_ref(User.objects.only("email").get(pk=user_id))
        activity_record_many(
            _entry(task, Verb.UNASSIGNED, actor, {"assignee": [former, None]}) for task in tasks
        )
    return deleted


def trash_cutoff(*, days: int | None = None) -> datetime:
    """Rows in the trash since before this are purged: `days` ago, SOFT_DELETE_RETENTION_DAYS
    by default."""
    days = settings.SOFT_DELETE_RETENTION_DAYS if days is None else days
    return timezone.now() - timedelta(days=days)


@transaction.atomic
def trash_purge(*, deleted_before: datetime) -> dict[str, int]:
    """Remove for good what went to the trash before `deleted_before`: tasks with their
    assignments, projects with their tasks. Returns how many of each.

    Activity entries stay (they name their target by id and label, not by foreign key), so
    the history of a purged task is still listed by `/api/activity/?task=`. Rows are locked
    (projects first, as everywhere, each in id order) and re-checked, so one restored
    meanwhile is kept.
    """
    project_ids = list(
        Project.all_objects.select_for_update()
        .filter(deleted_at__lt=deleted_before)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    task_ids = list(
        Task.all_objects.select_for_update()
        .filter(Q(deleted_at__lt=deleted_before) | Q(project_id__in=project_ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if task_ids:
        Task.all_objects.filter(pk__in=task_ids).delete()
    if project_ids:
        Project.all_objects.filter(pk__in=project_ids).delete()
    if task_ids or project_ids:
        change_counter_bump()
    return {"tasks": len(task_ids), "projects": len(project_ids)}
