"""Task: a unit of work with status, priority, due date, creator and assignees."""

import datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models.functions import Coalesce, Replace, Upper

from tenant_apps.people import user_reference
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

# `?search=`'s index key (tenant_apps/tasks/filters.py): the title upper-cased, each space
# turned into a digit. pg_trgm takes a string's trigrams word by word, so over the title itself
# a phrase narrows nothing beyond "each of its words somewhere in the title", and at a million
# titles from a small vocabulary every such trigram has a long posting list. Joined, the
# trigrams across a space ("X0L" of "fix login") say which words stand next to each other.
TITLE_SEARCH_SPACE = "0"


def title_search_key(text: models.Expression) -> Upper:
    """`text` as the search key: upper-cased, each space turned into TITLE_SEARCH_SPACE (the
    index's expression for the title, the filter's for the term)."""
    return Upper(Replace(text, models.Value(" "), models.Value(TITLE_SEARCH_SPACE)))


TITLE_SEARCH_KEY = title_search_key(models.F("title"))

# `?search=`'s index for phrases (tenant_apps/tasks/filters.py): where the title's words meet,
# the end of one word and the start of the next at 3 or 5 characters each
# (public.word_junctions, shared_apps/accounts/migrations/0006). A phrase's junction is about
# as rare as the phrase, where each trigram of its words may be in a tenth of the titles.
TITLE_JUNCTIONS = models.Func(
    Upper(models.F("title")),
    function="public.word_junctions",
    output_field=ArrayField(models.TextField()),
)


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
    # Indexed with the default listing's order (tasks_creator_created_id below).
    created_by = user_reference(db_index=False)
    assignees = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TaskAssignee", related_name="+", blank=True
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
            # The default listing (newest first) pages by (created_at, id). The due date rides
            # along as a key column, so a due-date bound on that listing is checked in the index
            # (an index condition): the seeded data's newest tasks are due later than a window
            # 60 days back, and the scan passes ~86,000 of them at a million tasks, each a heap
            # fetch otherwise (18 ms, against 3-5 ms in the index).
            models.Index(fields=["-created_at", "-id", "due_date"], name="tasks_created_id_due"),
            # `?created_by=`, newest first: the creator's tasks in page order, where the index
            # above would pass over everyone else's (~10,000 rows for a creator of 0.5%).
            models.Index(
                fields=["created_by", "-created_at", "-id"], name="tasks_creator_created_id"
            ),
            models.Index(fields=["priority_rank", "id"], name="tasks_priority_rank_id"),
            models.Index(DUE_DATE_SORT_ASC, models.F("id"), name="tasks_due_sort_asc_id"),
            models.Index(DUE_DATE_SORT_DESC, models.F("id"), name="tasks_due_sort_desc_id"),
            # The trash (small): its list and the purge's "deleted before" scan.
            models.Index(
                fields=["deleted_at"],
                condition=models.Q(deleted_at__isnull=False),
                name="tasks_trash",
            ),
            # `?search=`: a LIKE on the search key, which pg_trgm's trigrams of the same
            # expression answer (tenant_apps/tasks/filters.py).
            GinIndex(OpClass(TITLE_SEARCH_KEY, name="gin_trgm_ops"), name="tasks_title_key_trgm"),
            # `?search=` of a phrase: its words' junction among the title's (filters.py).
            GinIndex(TITLE_JUNCTIONS, name="tasks_title_junctions"),
        ]

    def __str__(self):
        return self.title


class TaskAssignee(models.Model):
    """One assignment of a task to a member: the table behind `Task.assignees`, declared so
    that its user is a reference without a constraint (tenant_apps.people)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="+")
    user = user_reference(on_delete=models.CASCADE)

    class Meta:
        db_table = "tasks_task_assignees"
        unique_together = [("task", "user")]


# --- The dashboard's running counts ------------------------------------------------------------
#
# Kept by PostgreSQL: statement triggers on tasks_task and tasks_task_assignees (migrations
# 0005 and 0007) append, in the writing statement's own transaction, one row per figure it
# changes with the change (+n / -n). A figure is the SUM of its rows, so the dashboard reads a
# few rows per project and assignee instead of scanning the tasks, whatever their number;
# compaction (tenant_apps.tasks.dashboard_counts) folds the rows into one total per key from
# time to time. No code writes these tables but the triggers and the compaction.


class DashboardCount(models.Model):
    """Live tasks per project, status and priority."""

    project_id = models.BigIntegerField()
    status = models.CharField(max_length=16)
    priority = models.CharField(max_length=8)
    n = models.BigIntegerField()
    # False: a change appended by a trigger; True: a total written by the compaction.
    compacted = models.BooleanField(db_default=False)

    class Meta:
        db_table = "tasks_dashboard_count"
        indexes = [
            models.Index(fields=["project_id"], name="tasks_dash_count_project"),
            models.Index(
                fields=["id"], condition=models.Q(compacted=False), name="tasks_dash_count_new"
            ),
        ]


class DashboardDue(models.Model):
    """Open live tasks (not DONE) per project and due date, for those with a due date; the
    compaction folds dates long past into one (they stay overdue whatever the day)."""

    project_id = models.BigIntegerField()
    due_date = models.DateField()
    n = models.BigIntegerField()
    compacted = models.BooleanField(db_default=False)

    class Meta:
        db_table = "tasks_dashboard_due"
        indexes = [
            models.Index(fields=["project_id", "due_date"], name="tasks_dash_due_project"),
            # The whole organization's overdue and due soon: only the dates before next week.
            models.Index(fields=["due_date"], name="tasks_dash_due_date"),
            models.Index(
                fields=["id"], condition=models.Q(compacted=False), name="tasks_dash_due_new"
            ),
        ]


class DashboardAssignee(models.Model):
    """Open live tasks per assignee and project."""

    user_id = models.BigIntegerField()
    project_id = models.BigIntegerField()
    n = models.BigIntegerField()
    compacted = models.BooleanField(db_default=False)

    class Meta:
        db_table = "tasks_dashboard_assignee"
        indexes = [
            models.Index(fields=["project_id", "user_id"], name="tasks_dash_assignee_project"),
            models.Index(
                fields=["id"], condition=models.Q(compacted=False), name="tasks_dash_assignee_new"
            ),
        ]


class DashboardAssigneeTotal(models.Model):
    """Open live tasks per assignee in the whole organization: DashboardAssignee's rows added
    up per user as they are written (a trigger on that table, migration 0007), so the top
    assignees read one row per assignee rather than one per assignee and project."""

    user_id = models.BigIntegerField()
    n = models.BigIntegerField()
    compacted = models.BooleanField(db_default=False)

    class Meta:
        db_table = "tasks_dashboard_assignee_total"
        indexes = [
            models.Index(
                fields=["id"], condition=models.Q(compacted=False), name="tasks_dash_total_new"
            ),
        ]


# The tables of the running counts (the compaction folds each).
DASHBOARD_COUNT_MODELS = (DashboardCount, DashboardDue, DashboardAssignee, DashboardAssigneeTotal)
