"""Reads for tasks."""

from django.db.models import QuerySet

from .models import Task


def task_list() -> QuerySet[Task]:
    """Tasks of the current organization with creator and assignees loaded (constant queries)."""
    return Task.objects.select_related("created_by").prefetch_related("assignees")
