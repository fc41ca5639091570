"""DjangoFilterBackendSkippingAbsent: no FilterSet is built for a request without filter
parameters, and only when that provably changes nothing; otherwise django-filter runs."""

from unittest import mock

import django_filters
import pytest
from django import forms
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from saas.api.filter_backends import DjangoFilterBackendSkippingAbsent
from tenant_apps.tasks.models import Task


class PlainFilter(django_filters.FilterSet):
    status = django_filters.CharFilter()
    due = django_filters.DateFromToRangeFilter(field_name="due_date")  # due_after / due_before
    mine = django_filters.BooleanFilter(method="only_mine")

    class Meta:
        model = Task
        fields: list[str] = []

    def only_mine(self, queryset, name, value):
        return queryset.filter(created_by_id=1)


class RequiredFilter(PlainFilter):
    title = django_filters.CharFilter(required=True)


class CheckboxFilter(PlainFilter):
    urgent = django_filters.BooleanFilter(field_name="priority", widget=forms.CheckboxInput)


class EmptyValueFilter(django_filters.CharFilter):
    def filter(self, queryset, value):  # acts on an absent parameter too
        return queryset.filter(description="") if not value else queryset


class CustomFilter(PlainFilter):
    blank = EmptyValueFilter()


class OverridingFilter(PlainFilter):
    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset).exclude(status="DONE")


def _view(filterset_class, **attributes):
    return mock.Mock(
        spec=["filterset_class", *attributes], filterset_class=filterset_class, **attributes
    )


def _request(query: str = "") -> Request:
    return Request(APIRequestFactory().get(f"/api/tasks/?{query}"))


def _filter(filterset_class, query="", **view_attributes):
    backend = DjangoFilterBackendSkippingAbsent()
    queryset = Task.objects.all()
    with mock.patch.object(
        DjangoFilterBackendSkippingAbsent, "get_filterset", wraps=backend.get_filterset
    ) as built:
        result = backend.filter_queryset(
            _request(query), queryset, _view(filterset_class, **view_attributes)
        )
    return queryset, result, built.called


@pytest.mark.parametrize("query", ["", "ordering=-created_at&page_size=5", "cursor=abc", "other=1"])
def test_without_filter_parameters_no_filterset_is_built(query):
    queryset, result, built = _filter(PlainFilter, query)

    assert not built
    assert result is queryset


@pytest.mark.parametrize(
    ("query", "sql"),
    [
        ("status=NEW", '"status" = NEW'),
        ("due_after=2026-01-01", '"due_date" >= 2026-01-01'),  # a suffixed widget's half
        ("due_before=2026-01-01", '"due_date" <= 2026-01-01'),
        ("mine=true", '"created_by_id" = 1'),
        ("status=", None),  # present but empty: django-filter decides (no filter)
    ],
)
def test_a_filter_parameter_runs_django_filter(query, sql):
    queryset, result, built = _filter(PlainFilter, query)

    assert built
    assert str(result.query) == str(PlainFilter(_request(query).query_params, queryset).qs.query)
    if sql:
        assert sql in str(result.query)


def test_an_invalid_value_is_still_django_filters_400():
    with pytest.raises(ValidationError) as raised:
        _filter(PlainFilter, "due_after=someday")

    assert "due" in raised.value.detail


def test_a_required_filter_is_still_a_400_when_absent():
    with pytest.raises(ValidationError) as raised:
        _filter(RequiredFilter)

    assert "title" in raised.value.detail


@pytest.mark.parametrize(
    ("filterset_class", "sql"),
    [
        (CheckboxFilter, '"priority" = False'),  # an absent checkbox means false
        (CustomFilter, '"description" = '),  # a filter of its own acting on an empty value
        (OverridingFilter, 'NOT ("tasks_task"."status" = DONE)'),  # an own filter_queryset
    ],
)
def test_a_filterset_where_absence_may_mean_something_always_runs(filterset_class, sql):
    queryset, result, built = _filter(filterset_class)

    assert built
    assert sql in str(result.query)
    assert str(result.query) == str(filterset_class({}, queryset).qs.query)


def test_a_view_may_vouch_for_its_overridden_filter_queryset():
    queryset, result, built = _filter(
        OverridingFilter, "", filterset_unchanged_without_parameters=True
    )

    assert not built and result is queryset


def test_a_view_without_a_filterset_gets_its_queryset():
    backend = DjangoFilterBackendSkippingAbsent()
    queryset = Task.objects.all()

    assert backend.filter_queryset(_request(), queryset, mock.Mock(spec=[])) is queryset
