"""Query-string filters for the task list; malformed values become 400s naming the parameter."""

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from saas.api.messages import INVALID_BOOLEAN, INVALID_DATE

from .models import Priority, Status, Task


class ChoiceInFilter(django_filters.BaseInFilter, django_filters.ChoiceFilter):
    """`?status=NEW,DONE`: comma-separated values, each one a valid choice."""

    def __init__(self, *args, noun: str = "choice", choices, **kwargs):
        allowed = ", ".join(value for value, _ in choices)
        invalid = f'"%(value)s" is not a {noun}: use {allowed}, or several separated by commas.'
        kwargs.setdefault("error_messages", {"invalid_choice": invalid})
        super().__init__(*args, choices=choices, **kwargs)


class IsoDateField(forms.DateField):
    """Only YYYY-MM-DD, the format the API documents (Django also reads 10/25/2006 etc.)."""

    input_formats = ["%Y-%m-%d"]
    default_error_messages = {"invalid": INVALID_DATE}


class IsoDateFilter(django_filters.DateFilter):
    field_class = IsoDateField


class AssigneeField(forms.CharField):
    """A user id, or `me` for the requesting user."""

    def clean(self, value):
        value = super().clean(value)
        if value in (None, "") or value == "me":
            return value
        try:
            user_id = int(value)
        except (TypeError, ValueError):
            raise ValidationError('Enter a user id or "me".', code="invalid") from None
        if user_id < 1:
            raise ValidationError('Enter a user id or "me".', code="invalid")
        return user_id


@extend_schema_field({"type": "string", "pattern": "^(me|[0-9]+)$"})
class AssigneeFilter(django_filters.Filter):
    field_class = AssigneeField


class BooleanStrictField(forms.TypedChoiceField):
    """Only `true` or `false` (a typo must not silently mean "no filter")."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [("true", "true"), ("false", "false")])
        kwargs.setdefault("error_messages", {"invalid_choice": INVALID_BOOLEAN})
        kwargs["coerce"] = lambda value: value == "true"
        kwargs["empty_value"] = None
        super().__init__(*args, **kwargs)


@extend_schema_field(OpenApiTypes.BOOL)
class BooleanStrictFilter(django_filters.Filter):
    field_class = BooleanStrictField


class IdFilter(django_filters.NumberFilter):
    """A whole-number id: `1.9` is an error, not id 1."""

    field_class = forms.IntegerField


class TaskFilter(django_filters.FilterSet):
    project = IdFilter(field_name="project_id", min_value=1)
    status = ChoiceInFilter(
        field_name="status", choices=Status.choices, lookup_expr="in", noun="status"
    )
    priority = ChoiceInFilter(
        field_name="priority", choices=Priority.choices, lookup_expr="in", noun="priority"
    )
    assignee = AssigneeFilter(method="filter_assignee")
    created_by = IdFilter(field_name="created_by_id", min_value=1)
    due_before = IsoDateFilter(field_name="due_date", lookup_expr="lte")
    due_after = IsoDateFilter(field_name="due_date", lookup_expr="gte")
    overdue = BooleanStrictFilter(method="filter_overdue")
    search = django_filters.CharFilter(field_name="title", lookup_expr="icontains", max_length=200)

    class Meta:
        model = Task
        fields: list[str] = []

    def filter_assignee(self, queryset, name, value):
        user_id = self.request.user.id if value == "me" else value
        # EXISTS rather than a join: no duplicate rows, no DISTINCT over the whole list.
        through = Task.assignees.through.objects.filter(task_id=OuterRef("pk"), user_id=user_id)
        return queryset.filter(Exists(through))

    def filter_overdue(self, queryset, name, value):
        # "Today" in the server's TIME_ZONE (settings.TIME_ZONE, UTC by default).
        overdue = Q(due_date__lt=timezone.localdate()) & ~Q(status=Status.DONE)
        return queryset.filter(overdue) if value else queryset.exclude(overdue)
