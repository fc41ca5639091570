"""Reads for tasks."""

from datetime import date, timedelta

from django.db import connection
from django.db.models import Count, Prefetch, Q, QuerySet

from shared_apps.accounts.models import User
from tenant_apps.projects.models import Project

from .models import Priority, Status, Task

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

    Three queries whatever the size: one grouped scan of the tasks (counts by project, status
    and priority, with the overdue and due-soon counts of each group; index-only on
    `tasks_dashboard`), one join of the open tasks with their assignments (`tasks_open`), and
    the names of the projects and of the top assignees. Overdue and due-soon count open
    tasks only: the grouping by status lets DONE groups be left out here instead of testing
    the status of every row. Call it inside one snapshot (see tenant_apps.tasks.cache) so
    the figures agree with each other.
    """
    tasks = Task.objects.order_by()
    projects = Project.objects.order_by("name", "id")
    if project_id is not None:
        tasks = tasks.filter(project_id=project_id)
        projects = projects.filter(pk=project_id)
    # COUNT(due_date), not COUNT(id): every column it reads is in the index (index-only scan).
    groups = tasks.values_list("project_id", "status", "priority").annotate(
        total=Count("*"),
        overdue=Count("due_date", filter=Q(due_date__lt=today)),
        due_soon=Count(
            "due_date",
            filter=Q(due_date__gte=today, due_date__lt=today + timedelta(days=DUE_SOON_DAYS)),
        ),
    )
    by_status: dict[str, int] = {}
    by_priority: dict[str, int] = {}
    by_project: dict[int, dict[str, int]] = {}
    overdue = due_soon = 0
    for project, status, priority, total, group_overdue, group_due_soon in groups:
        by_status[status] = by_status.get(status, 0) + total
        by_priority[priority] = by_priority.get(priority, 0) + total
        statuses = by_project.setdefault(project, {})
        statuses[status] = statuses.get(status, 0) + total
        if status != Status.DONE:
            overdue += group_overdue
            due_soon += group_due_soon

    if connection.in_atomic_block:
        # Measured at a million tasks: a serial merge join of the two indexes takes ~90 ms,
        # the parallel hash join the planner prefers 180-300 ms (its hash spills to disk).
        # SET LOCAL ends with the snapshot's transaction.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
    open_assignments = (
        Task.assignees.through.objects.filter(task__in=tasks.exclude(status=Status.DONE))
        .values_list("user_id")
        .annotate(open_tasks=Count("*"))
        .order_by("-open_tasks", "user_id")[:TOP_ASSIGNEES]
    )
    top = list(open_assignments)
    users = User.objects.only(*USER_SUMMARY_FIELDS).in_bulk([user_id for user_id, _ in top])
    return {
        "by_status": _by(Status, by_status),
        "by_priority": _by(Priority, by_priority),
        "overdue": overdue,
        "due_next_7_days": due_soon,
        "projects": [
            {"id": pk, "name": name, "by_status": _by(Status, by_project.get(pk, {}))}
            for pk, name in projects.values_list("id", "name")
        ],
        "assignees": [
            {
                "user": {field: getattr(users[user_id], field) for field in USER_SUMMARY_FIELDS},
                "open_tasks": count,
            }
            for user_id, count in top
            if user_id in users
        ],
    }
