"""Writes for projects in the current organization's schema."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404

from shared_apps.accounts.models import User

from .models import Project

NAME_TAKEN = "A project with this name already exists."
PROJECT_GONE = "This project no longer exists."


def _relock(project: Project, *, no_key: bool) -> None:
    """Lock the project's row until the transaction ends; 404 if a concurrent request deleted
    it (saving a row that is gone would fail as a 500)."""
    if not Project.objects.select_for_update(no_key=no_key).filter(pk=project.pk).exists():
        raise Http404(PROJECT_GONE)


def _save(project: Project, **kwargs) -> Project:
    try:
        # Savepoint: the unique index on name decides races; keep the outer transaction usable.
        with transaction.atomic():
            project.save(**kwargs)
    except IntegrityError as exc:
        raise ValidationError({"name": [NAME_TAKEN]}, code="unique") from exc
    return project


def project_create(*, name: str, description: str = "", created_by: User) -> Project:
    """Create a project; names are unique within the organization."""
    return _save(Project(name=name.strip(), description=description, created_by=created_by))


@transaction.atomic
def project_update(*, project: Project, data: dict) -> Project:
    """Apply `name`/`description` from `data` (other keys are ignored)."""
    fields = [field for field in ("name", "description") if field in data]
    for field in fields:
        value = data[field]
        setattr(project, field, value.strip() if field == "name" else value)
    if not fields:
        return project
    _relock(project, no_key=True)
    return _save(project, update_fields=[*fields, "updated_at"])


@transaction.atomic
def project_delete(*, project: Project) -> None:
    """Delete a project and, with it, its tasks.

    FOR UPDATE before the tasks are collected: task writes into this project hold a KEY SHARE
    lock on it (tenant_apps.tasks.services), so this waits for them and deletes their tasks too.
    """
    _relock(project, no_key=False)
    project.delete()
