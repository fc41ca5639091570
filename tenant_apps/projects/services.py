"""Writes for projects in the current organization's schema."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from shared_apps.accounts.models import User

from .models import Project

NAME_TAKEN = "A project with this name already exists."


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


def project_update(*, project: Project, data: dict) -> Project:
    """Apply `name`/`description` from `data` (other keys are ignored)."""
    fields = [field for field in ("name", "description") if field in data]
    for field in fields:
        value = data[field]
        setattr(project, field, value.strip() if field == "name" else value)
    if not fields:
        return project
    return _save(project, update_fields=[*fields, "updated_at"])


def project_delete(*, project: Project) -> None:
    """Delete a project and, with it, its tasks."""
    project.delete()
