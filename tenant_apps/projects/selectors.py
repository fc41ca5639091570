"""Reads for projects."""

from django.db.models import QuerySet

from .models import Project


def project_list() -> QuerySet[Project]:
    """Live projects of the current organization, with their creator loaded."""
    return Project.objects.select_related("created_by")


def project_trash_list() -> QuerySet[Project]:
    """Projects in the trash, with their creator and deleter loaded."""
    return Project.all_objects.filter(deleted_at__isnull=False).select_related(
        "created_by", "deleted_by"
    )
