"""Query-string filters for the activity log; malformed values become 400s naming the parameter."""

import django_filters

from saas.api.filters import (
    ChoiceInFilter,
    IdFilter,
    IsoDateTimeFilter,
    UserIdOrMeFilter,
    user_id_or_me,
)

from .models import Activity, TargetType, Verb


class ActivityFilter(django_filters.FilterSet):
    project = IdFilter(
        field_name="project_id",
        min_value=1,
        help_text="Entries of this project and of its tasks (kept after they are purged).",
    )
    task = IdFilter(method="filter_task", min_value=1, help_text="Entries of this task.")
    actor = UserIdOrMeFilter(
        method="filter_actor", help_text='Entries made by this user id, or "me".'
    )
    verb = ChoiceInFilter(
        field_name="verb",
        choices=Verb.choices,
        lookup_expr="in",
        noun="verb",
        help_text="One verb, or several separated by commas.",
    )
    since = IsoDateTimeFilter(
        field_name="created_at",
        lookup_expr="gte",
        help_text="Entries made at or after this ISO 8601 date or date-time.",
    )

    class Meta:
        model = Activity
        fields: list[str] = []

    def filter_task(self, queryset, name, value):
        return queryset.filter(target_type=TargetType.TASK, target_id=value)

    def filter_actor(self, queryset, name, value):
        return queryset.filter(actor_id=user_id_or_me(self.request, value))
