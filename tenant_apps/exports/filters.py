"""An export's filters: the task list's query parameters, checked by the task list's own
FilterSet, so an export holds exactly the tasks the list shows with the same parameters."""

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from tenant_apps.tasks.filters import TaskFilter
from tenant_apps.tasks.models import Priority, Status, Task

UNKNOWN_FILTER = 'Unknown filter "{name}". Use the task list\'s parameters: {accepted}.'
NOT_TEXT = "Send a string, as in the task list's query string."
NOT_ID = "Send a whole number (or a string of digits)."
NOT_ID_OR_ME = 'Send a user id (a whole number) or "me".'
NOT_BOOLEAN = "Send true or false."


class ExportTaskFilter(TaskFilter):
    """The task list's filters without `deleted`: an export holds live tasks only."""

    deleted = None


# What each filter may be in a JSON body, besides its query-string form (always a string).
ID, ID_OR_ME, BOOLEAN, DATE, TEXT = "id", "id_or_me", "boolean", "date", "text"
KINDS = {
    "project": ID,
    "status": TEXT,
    "priority": TEXT,
    "assignee": ID_OR_ME,
    "created_by": ID,
    "due_before": DATE,
    "due_after": DATE,
    "overdue": BOOLEAN,
    "search": TEXT,
}
# Paging parameters of the list mean nothing to an export (it has every row), and are ignored.
IGNORED = frozenset({"ordering", "page_size", "cursor"})


def _query_value(kind: str, value) -> str:
    """`value` as the task list's query string would carry it (ValueError: message)."""
    if isinstance(value, str):
        return value
    if kind == BOOLEAN and isinstance(value, bool):
        return "true" if value else "false"
    if kind in (ID, ID_OR_ME) and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError({ID: NOT_ID, ID_OR_ME: NOT_ID_OR_ME, BOOLEAN: NOT_BOOLEAN}.get(kind, NOT_TEXT))


def export_filters_clean(data, *, user) -> dict[str, str]:
    """The filters to store for an export: each value as the list's query string would carry
    it, empty ones left out (as on the list), `assignee=me` resolved to `user`'s id.
    Raises ValidationError keyed by the parameter, with the list's messages."""
    if not isinstance(data, dict):
        raise ValidationError(
            {"non_field_errors": ["Send a JSON object of task list filters, or {}."]}
        )
    errors: dict[str, list[str]] = {}
    filters: dict[str, str] = {}
    for name, value in data.items():
        if name in IGNORED:
            continue
        if name not in KINDS:
            errors[name] = [UNKNOWN_FILTER.format(name=name, accepted=", ".join(KINDS))]
            continue
        try:
            text = _query_value(KINDS[name], value)
        except ValueError as error:
            errors[name] = [str(error.args[0])]
            continue
        if text != "":
            filters[name] = text
    if errors:
        raise ValidationError(errors)
    filterset = ExportTaskFilter(data=filters, queryset=Task.objects.none())
    if not filterset.is_valid():
        raise ValidationError(dict(filterset.errors))
    if filters.get("assignee") == "me":
        filters["assignee"] = str(user.pk)
    return filters


def export_tasks(filters: dict[str, str]) -> QuerySet[Task]:
    """The live tasks of the current schema that stored `filters` select."""
    filterset = ExportTaskFilter(data=filters, queryset=Task.objects.all())
    if not filterset.is_valid():
        # Checked when the export was requested; only a change of the rules can get here.
        raise ValueError(f"stored filters are no longer valid: {dict(filterset.errors)}")
    return filterset.qs


def _schema(kind: str, description: str, **text) -> dict:
    string = {"type": "string", **text}
    if kind == ID:
        return {
            "oneOf": [{"type": "integer", "minimum": 1}, {**string, "pattern": "^[0-9]*$"}],
            "description": description,
        }
    if kind == ID_OR_ME:
        return {
            "oneOf": [{"type": "integer", "minimum": 1}, {**string, "pattern": "^(me|[0-9]*)$"}],
            "description": description,
        }
    if kind == BOOLEAN:
        return {
            "oneOf": [{"type": "boolean"}, {**string, "enum": ["true", "false", ""]}],
            "description": description,
        }
    if kind == DATE:
        return {**string, "pattern": "^([0-9]{4}-[0-9]{2}-[0-9]{2})?$", "description": description}
    return {**string, "description": description}


# The request body of POST /api/exports/ (OpenAPI): what export_filters_clean accepts.
EXPORT_REQUEST_SCHEMA = {
    "type": "object",
    "description": (
        "The task list's filters, by its parameter names, each as in its query string (ids "
        "and true/false may also be JSON numbers and booleans); an empty value or a missing "
        "one does not filter. Live tasks only. `ordering`, `page_size` and `cursor` are "
        "ignored; any other name is a 400."
    ),
    "properties": {
        "project": _schema(ID, "A project id."),
        "status": _schema(TEXT, f"Comma-separated: {', '.join(Status.values)}."),
        "priority": _schema(TEXT, f"Comma-separated: {', '.join(Priority.values)}."),
        "assignee": _schema(ID_OR_ME, 'A user id, or "me" (stored as your id).'),
        "created_by": _schema(ID, "The creator's user id."),
        "due_before": _schema(DATE, "Due on or before this date, YYYY-MM-DD."),
        "due_after": _schema(DATE, "Due on or after this date, YYYY-MM-DD."),
        "overdue": _schema(BOOLEAN, "true: open tasks due before today; false: the others."),
        "search": _schema(TEXT, "In titles, case-insensitive.", maxLength=200),
        **{name: {"description": "Ignored (an export has every row, by id)."} for name in IGNORED},
    },
    "additionalProperties": False,
}
