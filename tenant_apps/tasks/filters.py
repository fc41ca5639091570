"""Query-string filters for the task list; malformed values become 400s naming the parameter."""

import django_filters
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

# The strict filters live in the API plumbing, since other apps' lists use them too.
from saas.api.filters import (
    BooleanStrictFilter,
    ChoiceInFilter,
    IdFilter,
    IsoDateFilter,
    UserIdOrMeFilter,
    user_id_or_me,
)

from .models import Priority, Status, Task


class TaskFilter(django_filters.FilterSet):
    project = IdFilter(field_name="project_id", min_value=1)
    status = ChoiceInFilter(
        field_name="status", choices=Status.choices, lookup_expr="in", noun="status"
    )
    priority = ChoiceInFilter(
        field_name="priority", choices=Priority.choices, lookup_expr="in", noun="priority"
    )
    assignee = UserIdOrMeFilter(method="filter_assignee")
    created_by = IdFilter(field_name="created_by_id", min_value=1)
    due_before = IsoDateFilter(field_name="due_date", lookup_expr="lte")
    due_after = IsoDateFilter(field_name="due_date", lookup_expr="gte")
    overdue = BooleanStrictFilter(method="filter_overdue")
    search = django_filters.CharFilter(field_name="title", lookup_expr="icontains", max_length=200)
    # The trash instead of the live tasks (ADMIN and MANAGER). The view picks the rows it
    # starts from (see TaskViewSet.get_queryset); declared here so the value is validated
    # and documented like every other parameter, and the other filters still apply.
    deleted = BooleanStrictFilter(
        method="filter_nothing",
        help_text="`true`: the trash (deleted tasks) instead of the live ones; ADMIN and MANAGER.",
    )

    class Meta:
        model = Task
        fields: list[str] = []

    def filter_nothing(self, queryset, name, value):
        return queryset

    def filter_assignee(self, queryset, name, value):
        user_id = user_id_or_me(self.request, value)
        # EXISTS rather than a join: no duplicate rows, no DISTINCT over the whole list.
        through = Task.assignees.through.objects.filter(task_id=OuterRef("pk"), user_id=user_id)
        return queryset.filter(Exists(through))

    def filter_overdue(self, queryset, name, value):
        # "Today" in the server's TIME_ZONE (settings.TIME_ZONE, UTC by default).
        overdue = Q(due_date__lt=timezone.localdate()) & ~Q(status=Status.DONE)
        return queryset.filter(overdue) if value else queryset.exclude(overdue)
