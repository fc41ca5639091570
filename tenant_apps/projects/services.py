"""Writes for projects in the current organization's schema."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from saas.api.exceptions import ConflictError
from shared_apps.accounts.models import User
from tenant_apps.activity.models import Activity, TargetType, Verb
from tenant_apps.activity.services import activity_record_many, changes_between, clip

from .models import Project

NAME_TAKEN = "A project with this name already exists."
PROJECT_GONE = "This project no longer exists."
PROJECT_NOT_IN_TRASH = "This project is not in the trash."
NAME_TAKEN_ON_RESTORE = (
    'Another project is now named "{name}": rename that one, then restore this project.'
)


def _relock(project: Project, *, no_key: bool) -> Project:
    """The project's row as it is now, locked until the transaction ends; 404 if a concurrent
    request deleted it (saving a row that is gone would fail as a 500)."""
    current = Project.objects.select_for_update(no_key=no_key).filter(pk=project.pk).first()
    if current is None:
        raise Http404(PROJECT_GONE)
    return current


def _save(project: Project, **kwargs) -> Project:
    try:
        # Savepoint: the unique index on name decides races; keep the outer transaction usable.
        with transaction.atomic():
            project.save(**kwargs)
    except IntegrityError as exc:
        raise ValidationError({"name": [NAME_TAKEN]}, code="unique") from exc
    return project


def _entry(project: Project, verb: Verb, actor: User | None, changes=None) -> Activity:
    return Activity(
        actor=actor,
        verb=verb,
        target_type=TargetType.PROJECT,
        target_id=project.pk,
        target_label=project.name,
        project_id=project.pk,
        changes=changes or {},
    )


def _task_entries(project: Project, tasks, verb: Verb, actor: User | None) -> list[Activity]:
    """An entry for each task that goes to the trash with its project, or comes back with it."""
    return [
        Activity(
            actor=actor,
            verb=verb,
            target_type=TargetType.TASK,
            target_id=task_id,
            target_label=title,
            project_id=project.pk,
        )
        for task_id, title in tasks
    ]


def _diff(before: dict, after: dict) -> dict:
    changes = changes_between(before, after)
    if "description" in changes:
        changes["description"] = [clip(value) for value in changes["description"]]
    return changes


@transaction.atomic
def project_create(*, name: str, description: str = "", created_by: User) -> Project:
    """Create a project; names are unique among the organization's live projects. The
    creator is the actor of its `created` entry."""
    project = _save(Project(name=name.strip(), description=description, created_by=created_by))
    created = _diff({}, {"name": project.name, "description": project.description or None})
    activity_record_many([_entry(project, Verb.CREATED, created_by, created)])
    return project


@transaction.atomic
def project_update(*, project: Project, data: dict, actor: User | None = None) -> Project:
    """Apply `name`/`description` from `data` (other keys are ignored); an `updated` entry
    with old and new values, and no write at all when nothing changes."""
    fields = [field for field in ("name", "description") if field in data]
    for field in fields:
        value = data[field]
        setattr(project, field, value.strip() if field == "name" else value)
    if not fields:
        return project
    current = _relock(project, no_key=True)
    changes = _diff(
        {field: getattr(current, field) for field in fields},
        {field: getattr(project, field) for field in fields},
    )
    if not changes:
        return project
    _save(project, update_fields=[*changes, "updated_at"])
    activity_record_many([_entry(project, Verb.UPDATED, actor, changes)])
    return project


@transaction.atomic
def project_delete(*, project: Project, actor: User | None = None) -> None:
    """Put a project in the trash and, with it, its live tasks (marked `deleted_with_project`,
    so that restoring the project restores exactly those). 404 if it is gone or already in
    the trash.

    FOR UPDATE before the tasks are collected: task writes into this project hold a KEY SHARE
    lock on it (tenant_apps.tasks.services), so this waits for them and trashes their tasks
    too; a task write that comes after finds the project gone. (A plain UPDATE would take
    only FOR NO KEY UPDATE, which KEY SHARE does not block.)
    """
    current = _relock(project, no_key=False)
    now = timezone.now()
    # The tasks are locked as they are read, so one deleted on its own meanwhile is left out;
    # in id order, as every write of several tasks locks them (a member's removal too).
    # (`project.tasks` is the live tasks: the related manager uses their default manager.)
    tasks = list(
        current.tasks.select_for_update(no_key=True).order_by("pk").values_list("pk", "title")
    )
    if tasks:
        current.tasks(manager="all_objects").filter(pk__in=[pk for pk, _ in tasks]).update(
            deleted_at=now, deleted_by=actor, deleted_with_project=True
        )
    Project.all_objects.filter(pk=current.pk).update(deleted_at=now, deleted_by=actor)
    activity_record_many(
        [
            _entry(current, Verb.DELETED, actor),
            *_task_entries(current, tasks, Verb.DELETED, actor),
        ]
    )


@transaction.atomic
def project_restore(*, project: Project, actor: User | None = None) -> Project:
    """Take a project out of the trash with exactly the tasks that went there with it (not
    those deleted earlier on their own).

    409 if a live project has taken its name meanwhile, and nothing changes; 404 if it is not
    in the trash (restored or purged meanwhile: the row lock makes a second restore wait).
    """
    current = (
        Project.all_objects.select_for_update()
        .filter(pk=project.pk, deleted_at__isnull=False)
        .first()
    )
    if current is None:
        raise Http404(PROJECT_NOT_IN_TRASH)
    try:
        with transaction.atomic():
            Project.all_objects.filter(pk=current.pk).update(deleted_at=None, deleted_by=None)
    except IntegrityError as exc:
        raise ConflictError(NAME_TAKEN_ON_RESTORE.format(name=current.name)) from exc
    went_with_it = current.tasks(manager="all_objects").filter(deleted_with_project=True)
    tasks = list(
        went_with_it.select_for_update(no_key=True).order_by("pk").values_list("pk", "title")
    )
    if tasks:
        went_with_it.filter(pk__in=[pk for pk, _ in tasks]).update(
            deleted_at=None, deleted_by=None, deleted_with_project=False
        )
    activity_record_many(
        [
            _entry(current, Verb.RESTORED, actor),
            *_task_entries(current, tasks, Verb.RESTORED, actor),
        ]
    )
    current.deleted_at = current.deleted_by = None
    return current
