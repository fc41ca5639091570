"""ValuesSerializer: a ModelSerializer's output from `.values()` rows, field type by field type,
and a clear refusal of what it cannot read from rows."""

import datetime
import re
from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context
from rest_framework import serializers

from saas.api.values import ValuesSerializer
from shared_apps.accounts.models import User
from shared_apps.accounts.serializers import UserSummarySerializer
from tenant_apps.activity.models import Activity
from tenant_apps.tasks.models import Task
from tests.factories import make_member, make_project, make_task

pytestmark = pytest.mark.django_db


class EveryKindSerializer(serializers.ModelSerializer):
    """Field types and options the plan handles differently from the API's serializers."""

    id = serializers.IntegerField(read_only=True)
    big_id = serializers.BigIntegerField(source="id", coerce_to_string=True, read_only=True)
    created_year = serializers.DateTimeField(source="created_at", format="%Y", read_only=True)
    created_in_utc = serializers.DateTimeField(
        source="created_at", default_timezone=datetime.UTC, read_only=True
    )
    created_text = serializers.CharField(source="created_at", read_only=True)
    due = serializers.DateField(source="due_date", format="%d/%m/%Y", read_only=True)
    status_label = serializers.ChoiceField(
        source="status", choices=[("NEW", "n"), ("DONE", "d"), ("IN_PROGRESS", "i")]
    )
    priority = serializers.ReadOnlyField()
    project_id = serializers.PrimaryKeyRelatedField(source="project", read_only=True)
    creator = UserSummarySerializer(source="created_by", read_only=True)
    people = UserSummarySerializer(source="assignees", many=True, read_only=True)
    secret = serializers.CharField(source="title", write_only=True)

    class Meta:
        model = Task
        fields = (
            "id",
            "big_id",
            "created_year",
            "created_in_utc",
            "created_text",
            "due",
            "status_label",
            "priority",
            "project_id",
            "creator",
            "people",
            "secret",
            "title",
            "updated_at",
        )


class BinaryChangesSerializer(serializers.ModelSerializer):
    changes = serializers.JSONField(binary=True, read_only=True)
    actor = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Activity
        fields = ("id", "changes", "actor", "created_at")


@pytest.fixture
def tasks(acme, acme_manager):
    people = [make_member(acme, full_name=name) for name in ("B", "A", "C")]
    project = make_project(acme, created_by=acme_manager)
    made = [
        make_task(
            acme,
            project=project,
            created_by=acme_manager,
            due_date=None if n % 2 else datetime.date(2026, 3, n + 1),
            status=["NEW", "DONE", "IN_PROGRESS"][n % 3],
            assignee_ids=[p.pk for p in people[: n % 4]],
        )
        for n in range(8)
    ]
    with tenant_context(acme):
        Task.objects.filter(pk=made[0].pk).update(
            created_at=datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC)
        )
    return made


def _both(acme, serializer_class, queryset_of):
    with tenant_context(acme):
        instances = list(queryset_of())
        expected = serializer_class(instances, many=True).data
        rows = ValuesSerializer(serializer_class)
        actual = rows.to_representation(list(rows.values(queryset_of())))
    return actual, expected


JOINED = {
    "not joined": lambda: Task.objects.order_by("id"),
    "joined": lambda: Task.objects.select_related("created_by").order_by("id"),
    "all joined": lambda: Task.objects.select_related().order_by("id"),
}


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "America/New_York"])
@pytest.mark.parametrize("queryset_of", JOINED.values(), ids=JOINED.keys())
def test_every_kind_of_field_is_written_as_drf_writes_it(acme, tasks, settings, zone, queryset_of):
    settings.TIME_ZONE = zone

    actual, expected = _both(acme, EveryKindSerializer, queryset_of)

    assert actual == expected
    assert [list(row) for row in actual] == [list(row) for row in expected]
    assert "secret" not in actual[0]
    assert actual[0]["big_id"] == str(tasks[0].pk)
    assert actual[0]["created_year"] == "2026"
    assert any(row["due"] is None for row in actual)
    emails = [person["email"] for person in actual[3]["people"]]
    assert len(emails) == 3 and emails == sorted(emails)  # the users' Meta.ordering


def test_without_plain_sql_the_people_are_read_through_the_orm_the_same(acme, tasks):
    """The many-to-many query falls back to the ORM where plain SQL could read differently
    (a through table whose manager narrows its rows, converters, an ordering across
    relations)."""
    assert ValuesSerializer(EveryKindSerializer)._plan.steps[10].sql is not None
    with mock.patch("saas.api.values.serializer._many_sql", return_value=None):
        rows = ValuesSerializer(EveryKindSerializer)
        assert rows._plan.steps[10].sql is None
        actual, expected = _both(acme, EveryKindSerializer, lambda: Task.objects.order_by("id"))

    assert actual == expected
    assert any(len(row["people"]) == 3 for row in actual)


def test_an_active_time_zone_is_the_one_used(acme, tasks):
    with timezone.override("Australia/Adelaide"):  # +10:30 / +09:30
        actual, expected = _both(acme, EveryKindSerializer, lambda: Task.objects.order_by("id"))

    assert actual == expected


@pytest.mark.parametrize("select_related", [(), ("actor",)])
def test_binary_json_and_a_null_nested_object_are_written_as_drf_writes_them(
    acme, tasks, select_related
):
    with tenant_context(acme):
        Activity.objects.filter(pk__in=Activity.objects.order_by("id").values("pk")[:1]).update(
            actor=None
        )

    actual, expected = _both(
        acme,
        BinaryChangesSerializer,
        lambda: (
            Activity.objects.select_related(*select_related).order_by("id")
            if select_related
            else Activity.objects.order_by("id")
        ),
    )

    assert actual == expected
    assert any(row["actor"] is None for row in actual)
    assert isinstance(actual[0]["changes"], bytes)


def test_the_people_are_looked_up_per_assignment_whatever_the_estimates(acme, tasks):
    """The plain SQL reads the page's assignments by task, then each person by primary key:
    with the planner pushed away from that plan (as misleading statistics would: a users
    histogram older than the newest users once made a merge join over the whole through table
    look cheap), there is still no other plan to take."""
    sql = ValuesSerializer(EveryKindSerializer)._plan.steps[10].sql
    with tenant_context(acme), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute("SET LOCAL enable_hashjoin = off")
        cursor.execute(f"EXPLAIN {sql}", [[task.pk for task in tasks]])
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "Merge Join" not in plan and "Hash Join" not in plan, plan
    # Each person read for its assignment (by index, or a scan of a tiny analyzed table).
    assert re.search(r"(Index Cond|Filter): \(id = t\.user_id\)", plan), plan


def test_no_rows_need_no_query(acme, django_assert_num_queries):
    rows = ValuesSerializer(EveryKindSerializer)
    assert rows.columns  # compiled once, outside the count

    with django_assert_num_queries(0):
        assert rows.to_representation([]) == []


@pytest.mark.parametrize(("select_related", "queries"), [(("created_by",), 1), ((), 2)])
def test_the_people_of_a_page_take_one_query_each(
    acme, tasks, django_assert_num_queries, select_related, queries
):
    """The assignees in one query; the creators joined into the page when the queryset
    select_related() them, else in one query more (never one per row)."""
    rows = ValuesSerializer(EveryKindSerializer)
    with tenant_context(acme):
        queryset = Task.objects.order_by("id")
        if select_related:  # (select_related() without names would join every non-null key)
            queryset = queryset.select_related(*select_related)
        page = list(rows.values(queryset))
        with django_assert_num_queries(queries):
            rows.to_representation(page)


def test_the_page_query_joins_what_the_queryset_select_related(acme):
    rows = ValuesSerializer(EveryKindSerializer)

    joined = str(rows.values(Task.objects.select_related("created_by")).query)
    alone = str(rows.values(Task.objects.all()).query)

    assert "JOIN" in joined and '"created_by__email"' in joined
    assert "JOIN" not in alone and '"created_by_id" AS "creator"' not in alone


class MethodSerializer(serializers.ModelSerializer):
    shout = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = ("id", "shout")

    def get_shout(self, task):
        return task.title.upper()


class DottedSerializer(serializers.ModelSerializer):
    project_name = serializers.CharField(source="project.name")

    class Meta:
        model = Task
        fields = ("id", "project_name")


class WholeObjectSerializer(serializers.ModelSerializer):
    everything = serializers.CharField(source="*")

    class Meta:
        model = Task
        fields = ("id", "everything")


class DeepUserSerializer(serializers.ModelSerializer):
    me = UserSummarySerializer(source="*")

    class Meta:
        model = User
        fields = ("id", "me")


class TwoLevelsSerializer(serializers.ModelSerializer):
    created_by = DeepUserSerializer()

    class Meta:
        model = Task
        fields = ("id", "created_by")


class ReverseSerializer(serializers.ModelSerializer):
    tasks = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Task._meta.get_field("project").related_model
        fields = ("id", "tasks")


@pytest.mark.parametrize(
    "serializer_class",
    [
        MethodSerializer,
        DottedSerializer,
        WholeObjectSerializer,
        TwoLevelsSerializer,
        ReverseSerializer,
    ],
)
def test_what_rows_cannot_give_is_refused_when_compiled(serializer_class):
    with pytest.raises(ImproperlyConfigured):
        assert ValuesSerializer(serializer_class).columns
