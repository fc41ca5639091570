"""Reads for tasks."""

from datetime import date, timedelta

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet, Sum

from shared_apps.accounts.models import User
from tenant_apps.projects.models import Project

from .models import (
    DASHBOARD_COUNT_MODELS,
    DashboardAssignee,
    DashboardAssigneeTotal,
    DashboardCount,
    DashboardDue,
    Priority,
    Status,
    Task,
)

# The fields the API shows of a user; password hashes and the rest stay in the database.
USER_SUMMARY_FIELDS = ("id", "email", "full_name")


def _with_people(tasks: QuerySet[Task]) -> QuerySet[Task]:
    return tasks.select_related("created_by").prefetch_related(
        Prefetch("assignees", queryset=User.objects.only(*USER_SUMMARY_FIELDS))
    )


def task_list() -> QuerySet[Task]:
    """Live tasks of the current organization with creator and assignees loaded (constant
    queries)."""
    return _with_people(Task.objects.all())


def task_trash_list() -> QuerySet[Task]:
    """Tasks in the trash (deleted alone or with their project), loaded like task_list()."""
    return _with_people(Task.all_objects.filter(deleted_at__isnull=False)).select_related(
        "deleted_by"
    )


def task_lookup(*, include_trash: bool) -> QuerySet[Task]:
    """Tasks to find one by id without loading its people (its history), trashed ones too
    if `include_trash`."""
    return (Task.all_objects if include_trash else Task.objects).all()


# --- Dashboard -------------------------------------------------------------------------------

# "Due in the next 7 days": today and the six days after it.
DUE_SOON_DAYS = 7
TOP_ASSIGNEES = 20


def _by(choices, counts: dict) -> dict[str, int]:
    """Every choice as a key, zero when nothing counted it."""
    return {value: counts.get(value, 0) for value in choices.values}


def dashboard_figures(*, today: date, project_id: int | None = None) -> dict:
    """The organization's figures (or one project's), from live tasks only.

    Read from the running counts PostgreSQL keeps as tasks and assignments change (models.py,
    migrations 0005 and 0007), not from the tasks: a few rows per project, due date and assignee,
    whatever the number of tasks. One query per figure group (counts by project, status and
    priority; overdue and due soon; the top assignees) and the names of the projects and of
    those assignees. Call it inside one snapshot (see tenant_apps.tasks.cache) so the figures
    agree with each other.
    """
    counts = DashboardCount.objects.order_by()
    due = DashboardDue.objects.order_by().filter(due_date__lt=today + timedelta(days=DUE_SOON_DAYS))
    # One row per assignee for the whole organization, one per assignee and project else.
    assignees = DashboardAssigneeTotal.objects.order_by()
    projects = Project.objects.order_by("name", "id")
    if project_id is not None:
        counts = counts.filter(project_id=project_id)
        due = due.filter(project_id=project_id)
        assignees = DashboardAssignee.objects.order_by().filter(project_id=project_id)
        projects = projects.filter(pk=project_id)
    by_status: dict[str, int] = {}
    by_priority: dict[str, int] = {}
    by_project: dict[int, dict[str, int]] = {}
    groups = counts.values_list("project_id", "status", "priority").annotate(total=Sum("n"))
    for project, status, priority, total in groups:
        total = int(total)  # SUM of bigint is a numeric
        by_status[status] = by_status.get(status, 0) + total
        by_priority[priority] = by_priority.get(priority, 0) + total
        statuses = by_project.setdefault(project, {})
        statuses[status] = statuses.get(status, 0) + total
    dates = due.aggregate(
        overdue=Sum("n", filter=Q(due_date__lt=today), default=0),
        due_soon=Sum("n", filter=Q(due_date__gte=today), default=0),
    )
    top = list(
        assignees.values_list("user_id")
        .annotate(open_tasks=Sum("n"))
        .filter(open_tasks__gt=0)
        .order_by("-open_tasks", "user_id")[:TOP_ASSIGNEES]
    )
    users = User.objects.only(*USER_SUMMARY_FIELDS).in_bulk([user_id for user_id, _ in top])
    return {
        "by_status": _by(Status, by_status),
        "by_priority": _by(Priority, by_priority),
        "overdue": int(dates["overdue"]),
        "due_next_7_days": int(dates["due_soon"]),
        "projects": [
            {"id": pk, "name": name, "by_status": _by(Status, by_project.get(pk, {}))}
            for pk, name in projects.values_list("id", "name")
        ],
        "assignees": [
            {
                "user": {field: getattr(users[user_id], field) for field in USER_SUMMARY_FIELDS},
                "open_tasks": int(count),
            }
            for user_id, count in top
            if user_id in users
        ],
    }


def dashboard_pending_changes() -> int:
    """How many change rows the running counts hold beyond their compacted totals (what the
    next compaction would fold; each one costs every uncached dashboard a row to add up)."""
    tables = [model._meta.db_table for model in DASHBOARD_COUNT_MODELS]  # models', not input
    counts = " + ".join(
        f"(SELECT count(*) FROM {connection.ops.quote_name(table)} WHERE NOT compacted)"
        for table in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}")
        return cursor.fetchone()[0]
