"""Query-string filters for the project list; malformed values become 400s naming the parameter."""

import django_filters

from saas.api.filters import BooleanStrictFilter

from .models import Project


class ProjectFilter(django_filters.FilterSet):
    # The trash instead of the live projects (ADMIN and MANAGER). The view picks the rows it
    # starts from (see ProjectViewSet.get_queryset); declared here so the value is validated
    # and documented.
    deleted = BooleanStrictFilter(
        method="filter_nothing",
        help_text="`true`: the trash (deleted projects) instead of the live ones; ADMIN and "
        "MANAGER.",
    )

    class Meta:
        model = Project
        fields: list[str] = []

    def filter_nothing(self, queryset, name, value):
        return queryset
