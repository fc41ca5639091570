"""Reads for tasks."""

from django.db.models import Prefetch, QuerySet

from shared_apps.accounts.models import User

from .models import Task

# The fields the API shows of a user; password hashes and the rest stay in the database.
USER_SUMMARY_FIELDS = ("id", "email", "full_name")


def task_list() -> QuerySet[Task]:
    """Tasks of the current organization with creator and assignees loaded (constant queries)."""
    return Task.objects.select_related("created_by").prefetch_related(
        Prefetch("assignees", queryset=User.objects.only(*USER_SUMMARY_FIELDS))
    )
