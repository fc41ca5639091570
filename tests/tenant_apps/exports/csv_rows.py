"""What an export's CSV must hold, computed with the ORM (not the exporter's SQL)."""

import csv
import datetime
import io

from django_tenants.utils import tenant_context

from tenant_apps.tasks.models import Task

HEADER = [
    "id",
    "project",
    "title",
    "description",
    "status",
    "priority",
    "due_date",
    "created_by",
    "assignees",
    "created_at",
    "updated_at",
]


def parse(content: bytes) -> list[list[str]]:
    """The CSV's rows, header first (NULL and empty text both read as "")."""
    return list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))


def _text(value: str) -> str:
    # Spreadsheets run cells starting with these as formulas: the export prefixes an apostrophe.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _utc(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def expected_rows(organization, **filters) -> list[list[str]]:
    """Header and rows of the live tasks of `organization` matching the ORM `filters`, by id."""
    with tenant_context(organization):
        tasks = (
            Task.objects.filter(**filters)
            .select_related("project", "created_by")
            .prefetch_related("assignees")
            .order_by("id")
        )
        rows = [
            [
                str(task.id),
                _text(task.project.name),
                _text(task.title),
                _text(task.description),
                task.status,
                task.priority,
                task.due_date.isoformat() if task.due_date else "",
                _text(task.created_by.email),
                _text(";".join(sorted(user.email for user in task.assignees.all()))),
                _utc(task.created_at),
                _utc(task.updated_at),
            ]
            for task in tasks
        ]
    return [HEADER, *rows]
