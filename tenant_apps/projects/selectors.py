"""Reads for projects."""

from django.db.models import QuerySet

from .models import Project


def project_list() -> QuerySet[Project]:
    """Projects of the current organization, with their creator loaded."""
    return Project.objects.select_related("created_by")
