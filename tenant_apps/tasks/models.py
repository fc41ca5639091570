"""Task: a unit of work with status, priority, due date, creator and assignees."""

import datetime

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce

from tenant_apps.projects.models import Trashable


class Status(models.TextChoices):
    NEW = "NEW", "New"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    DONE = "DONE", "Done"


class Priority(models.TextChoices):
    LOW = "LOW", "Low"
    MEDIUM = "MEDIUM", "Medium"
    HIGH = "HIGH", "High"


# Sort keys for "order by due date" that put tasks without one last in both directions;
# the list view orders by exactly these expressions, so the indexes below serve it.
DUE_DATE_SORT_ASC = Coalesce(models.F("due_date"), models.Value(datetime.date.max))
DUE_DATE_SORT_DESC = Coalesce(models.F("due_date"), models.Value(datetime.date.min))


class Task(Trashable):
    """A task in one project of the current organization."""

    Status = Status
    Priority = Priority

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.MEDIUM)
    due_date = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assignees = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="+", blank=True, db_table="tasks_task_assignees"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Severity as a number (HIGH=3 > MEDIUM=2 > LOW=1), kept by PostgreSQL itself, so
    # "order by priority" is by severity, not alphabetical, and can use an index.
    priority_rank = models.GeneratedField(
        expression=models.Case(
            models.When(priority=Priority.HIGH, then=models.Value(3)),
            models.When(priority=Priority.MEDIUM, then=models.Value(2)),
            default=models.Value(1),
        ),
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )
    # The trash (Trashable's `deleted_at`): set by task_delete, or by project_delete for the
    # project's live tasks, which are marked `deleted_with_project` so that restoring the
    # project restores exactly those (not tasks deleted earlier on their own).
    deleted_with_project = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(deleted_with_project=False) | models.Q(deleted_at__isnull=False),
                name="tasks_task_with_project_only_in_trash",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=Status.values),
                name="tasks_task_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(priority__in=Priority.values),
                name="tasks_task_priority_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["project", "status"], name="tasks_project_status"),
            models.Index(fields=["due_date"], name="tasks_due_date"),
            # The default listing (newest first) pages by (created_at, id).
            models.Index(fields=["-created_at", "-id"], name="tasks_created_id"),
            models.Index(fields=["priority_rank", "id"], name="tasks_priority_rank_id"),
            models.Index(DUE_DATE_SORT_ASC, models.F("id"), name="tasks_due_sort_asc_id"),
            models.Index(DUE_DATE_SORT_DESC, models.F("id"), name="tasks_due_sort_desc_id"),
            # The trash (small): its list and the purge's "deleted before" scan.
            models.Index(
                fields=["deleted_at"],
                condition=models.Q(deleted_at__isnull=False),
                name="tasks_trash",
            ),
            # The dashboard's grouped counts read only this index (index-only scan; B-tree
            # deduplication keeps it at a few MB per million tasks, since keys repeat).
            models.Index(
                fields=["project", "status", "priority", "due_date"],
                condition=models.Q(deleted_at__isnull=True),
                name="tasks_dashboard",
            ),
            # Open live tasks in id order: the dashboard's assignee counts merge-join it with
            # the assignments' (task_id, user_id) index.
            models.Index(
                fields=["id"],
                include=["project"],
                condition=models.Q(deleted_at__isnull=True) & ~models.Q(status=Status.DONE),
                name="tasks_open",
            ),
        ]

    def __str__(self):
        return self.title
