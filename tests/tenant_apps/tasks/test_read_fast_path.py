"""The read fast path (`.values()` rows, orjson) answers exactly what the serializer path does.

Every request below is sent twice: as served (TaskViewSet and ActivityViewSet build their reads
from rows, saas.api.values, and render with orjson), and through DRF's own path, as these
views worked before: ListModelMixin/RetrieveModelMixin with TaskSerializer/ActivitySerializer
over model instances, DjangoFilterBackend, and DRF's JSONRenderer. The `results` (or the
detail) must be the same bytes: the same keys in the same order, the same date and time text
(time zone, microseconds), the same nulls and nested people, the same escapes; cursor links
must carry the same position; errors must be the same JSON.
"""

import datetime
import functools
import json
from contextlib import contextmanager
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from django.core import signing
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django_filters.rest_framework import DjangoFilterBackend
from django_tenants.utils import tenant_context
from rest_framework import mixins
from rest_framework.views import APIView

from saas.api.pagination import CURSOR_SALT
from saas.api.renderers import FastJSONRenderMixin
from shared_apps.accounts.models import User
from shared_apps.organizations.models import Role
from tenant_apps.activity.apis import ActivityViewSet
from tenant_apps.activity.models import TargetType
from tenant_apps.activity.selectors import activity_of
from tenant_apps.activity.serializers import ActivitySerializer
from tenant_apps.projects.services import project_delete
from tenant_apps.tasks.apis import TaskViewSet
from tenant_apps.tasks.filters import TaskFilter
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.selectors import task_list
from tenant_apps.tasks.services import task_delete, task_update
from tests.factories import client_for, make_member, make_project, make_task, make_user

pytestmark = pytest.mark.django_db

TASKS = "/api/tasks/"
ACTIVITY = "/api/activity/"
ORDERINGS = ["-created_at", "created_at", "priority", "-priority", "due_date", "-due_date"]
TODAY = datetime.date.today()
TITLES = [
    "Plain title",
    'Quotes " and \\ backslash',
    "Café, naïve, 日本語, emoji 🚀",
    "Line\nbreak\tand tab",
    "JavaScript separators \u2028 and \u2029",
    "Control \x01\x1f and DEL \x7f",
    "   padded   ",
    "</script><b>html</b> & ampersand",
]
DESCRIPTIONS = ["", "A longer description. " * 20, "multi\nline\r\nwith \u2028", "\x07bell"]


# --- the serializer path (the reference) ----------------------------------------------------


def _task_activity_through_the_serializer(self, request, pk=None):
    task = self.get_object()
    page = self.paginate_queryset(activity_of(target_type=TargetType.TASK, target_id=task.pk))
    return self.get_paginated_response(ActivitySerializer(page, many=True).data)


# The action's name, routing, schema (@action, @extend_schema) and description stay the
# method's.
functools.update_wrapper(_task_activity_through_the_serializer, TaskViewSet.activity)


@contextmanager
def serializer_path():
    """The views as DRF serves them with their serializers, filters and renderer."""
    with (
        mock.patch.object(TaskViewSet, "list", mixins.ListModelMixin.list),
        mock.patch.object(TaskViewSet, "retrieve", mixins.RetrieveModelMixin.retrieve),
        mock.patch.object(TaskViewSet, "activity", _task_activity_through_the_serializer),
        mock.patch.object(TaskViewSet, "filter_backends", [DjangoFilterBackend]),
        mock.patch.object(ActivityViewSet, "list", mixins.ListModelMixin.list),
        mock.patch.object(ActivityViewSet, "filter_backends", [DjangoFilterBackend]),
        mock.patch.object(FastJSONRenderMixin, "get_renderers", APIView.get_renderers),
    ):
        yield


def both(client, path: str, params: dict | None = None):
    """(as served, through the serializer) for one GET."""
    fast = client.get(path, params or {})
    with serializer_path():
        reference = client.get(path, params or {})
    return fast, reference


def _ordered(content: bytes):
    """The JSON with every object as a list of (key, value): equality then includes key order."""
    return json.loads(content, object_pairs_hook=list)


def _results_bytes(content: bytes) -> bytes:
    """The raw text of `results`, the last key of a page."""
    start = content.index(b'"results":')
    return content[start:]


def _position(link: str | None):
    """What a cursor link points at: its path, its other parameters and the signed payload."""
    if link is None:
        return None
    parts = urlsplit(link)
    query = parse_qs(parts.query)
    cursor = signing.loads(query.pop("cursor")[0], salt=CURSOR_SALT)
    return parts.path, query, cursor


def assert_same_page(fast, reference) -> dict:
    """The two answers to one list request are the same; returns the page (parsed)."""
    assert fast.status_code == reference.status_code == 200, (fast.content, reference.content)
    assert fast["Content-Type"] == reference["Content-Type"]
    assert _results_bytes(fast.content) == _results_bytes(reference.content)
    page, expected = fast.json(), reference.json()
    assert _ordered(fast.content)[-1] == _ordered(reference.content)[-1]  # ("results", [...])
    assert [key for key, _ in _ordered(fast.content)] == ["next", "previous", "results"]
    assert _position(page["next"]) == _position(expected["next"])
    assert _position(page["previous"]) == _position(expected["previous"])
    return page


def _path(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def assert_same_walk(client, path: str, params: dict) -> list[int]:
    """Every page from the first to the last, then one step back, the same both ways; returns
    the ids seen."""
    fast, reference = both(client, path, params)
    page = assert_same_page(fast, reference)
    ids = [row["id"] for row in page["results"]]
    pages = 1
    while page["next"]:
        fast, reference = both(client, _path(page["next"]))
        page = assert_same_page(fast, reference)
        ids += [row["id"] for row in page["results"]]
        pages += 1
        assert pages < 50
    if page["previous"]:
        assert_same_page(*both(client, _path(page["previous"])))
    return ids


# --- data ------------------------------------------------------------------------------------


@pytest.fixture
def world(acme, acme_admin, acme_manager, acme_member):
    """Varied tasks of acme: every title and description shape above, no/some/past/future due
    dates, 0-4 assignees (people whose emails sort differently from their ids, one without a
    name), two creators, shared and whole-second timestamps; two tasks deleted on their own
    and a deleted project with its tasks (the trash, with `deleted_by`)."""
    people = [
        make_member(acme, Role.MEMBER, email="zoe@test.example.com", full_name="Zoë Ünïcode"),
        make_member(acme, Role.MEMBER, email="adam@test.example.com", full_name="Adam"),
        make_member(acme, Role.MEMBER, email="Mia.Caps@test.example.com", full_name='Mia "Q"'),
        make_member(acme, Role.MEMBER, email="noname@test.example.com"),
        acme_member,
    ]
    User.objects.filter(email="noname@test.example.com").update(full_name="")
    projects = [make_project(acme, created_by=acme_manager, name=f"Fast path {n}") for n in "AB"]
    doomed = make_project(acme, created_by=acme_manager, name="Fast path doomed")
    tasks = []
    for index in range(36):
        due = [None, TODAY - datetime.timedelta(days=3), TODAY, TODAY + datetime.timedelta(9)]
        tasks.append(
            make_task(
                acme,
                project=doomed if index % 9 == 8 else projects[index % 2],
                created_by=acme_manager if index % 3 else acme_admin,
                title=TITLES[index % len(TITLES)] + f" #{index}",
                description=DESCRIPTIONS[index % len(DESCRIPTIONS)],
                status=["NEW", "IN_PROGRESS", "DONE"][index % 3],
                priority=["LOW", "MEDIUM", "HIGH"][(index // 3) % 3],
                due_date=due[index % 4],
                assignee_ids=[person.pk for person in people[: index % 6]][:4],
            )
        )
    with tenant_context(acme):
        moment = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=datetime.UTC)
        # Ties on created_at (the cursor then orders by id), and whole seconds (no fraction).
        Task.objects.filter(pk__in=[t.pk for t in tasks[:6]]).update(created_at=moment)
        Task.objects.filter(pk__in=[t.pk for t in tasks[6:9]]).update(
            created_at=moment + datetime.timedelta(microseconds=1), updated_at=moment
        )
        task_update(
            organization=acme, task=tasks[10], data={"title": "Renamed"}, actor=acme_manager
        )
        task_delete(task=tasks[1], actor=acme_manager)
        task_delete(task=tasks[2], actor=None)
        project_delete(project=doomed, actor=acme_admin)
    return {"people": people, "projects": projects, "tasks": tasks, "doomed": doomed}


@pytest.fixture
def manager_client(acme, acme_manager):
    return client_for(acme_manager, acme)


@pytest.fixture
def member_client(acme, acme_member):
    return client_for(acme_member, acme)


def _task_filters(world) -> list[dict]:
    people, projects = world["people"], world["projects"]
    return [
        {},
        {"project": projects[0].pk},
        {"project": world["doomed"].pk},
        {"status": "NEW"},
        {"status": "IN_PROGRESS,DONE"},
        {"priority": "HIGH"},
        {"priority": "LOW,MEDIUM"},
        {"assignee": people[0].pk},
        {"assignee": "me"},
        {"created_by": world["tasks"][0].created_by_id},
        {"due_before": TODAY.isoformat()},
        {"due_after": TODAY.isoformat()},
        {"due_after": TODAY.isoformat(), "due_before": TODAY.isoformat()},
        {"overdue": "true"},
        {"overdue": "false"},
        {"search": "café"},
        {"search": "title"},
        {"status": "NEW", "priority": "HIGH", "project": projects[1].pk},
        {"deleted": "true"},
        {"deleted": "false"},
    ]


# --- the task list ---------------------------------------------------------------------------


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_every_filter_in_every_ordering_lists_the_same_json(world, acme, acme_manager, ordering):
    # A MANAGER: the trash (`deleted=true`) is theirs to list; `assignee=me` is them.
    client = client_for(acme_manager, acme)
    for filters in _task_filters(world):
        params = {**filters, "ordering": ordering, "page_size": 10}
        ids = assert_same_walk(client, TASKS, params)
        whole, whole_reference = both(client, TASKS, {**params, "page_size": 200})
        assert assert_same_page(whole, whole_reference)["next"] is None
        assert [row["id"] for row in whole.json()["results"]] == ids


def test_a_page_is_byte_for_byte_the_serializers_when_it_has_no_links(world, member_client):
    fast, reference = both(member_client, TASKS, {"page_size": 200})

    assert fast.json()["next"] is None and fast.json()["previous"] is None
    assert fast.content == reference.content


def test_the_list_shows_every_shape_of_value(world, member_client):
    """Not only equal to the serializer: the cases the fixture builds are really on the page."""
    rows = member_client.get(TASKS, {"page_size": 200}).json()["results"]
    by_id = {row["id"]: row for row in rows}
    tasks = world["tasks"]

    assert tasks[1].pk not in by_id and tasks[2].pk not in by_id  # deleted on their own
    assert not {t.pk for t in tasks if t.project_id == world["doomed"].pk} & set(by_id)
    assert any(row["due_date"] is None for row in rows)
    assert any(len(row["assignees"]) == 4 for row in rows)
    assert any(row["assignees"] == [] for row in rows)
    four = next(row for row in rows if len(row["assignees"]) == 4)
    emails = [person["email"] for person in four["assignees"]]
    assert emails == sorted(emails)  # the users' own order (by email), not by id
    assert any(person["full_name"] == "" for row in rows for person in row["assignees"])
    assert any(row["created_at"] == "2025-06-01T12:00:00Z" for row in rows)
    assert any(row["created_at"] == "2025-06-01T12:00:00.000001Z" for row in rows)
    assert all(row["deleted_at"] is None and row["deleted_by"] is None for row in rows)
    assert any("\u2028" in row["title"] for row in rows)


def test_the_trash_shows_who_deleted_each_task_the_same_way(
    world, manager_client, acme_admin, acme_manager
):
    fast, reference = both(manager_client, TASKS, {"deleted": "true", "page_size": 200})

    rows = assert_same_page(fast, reference)["results"]
    deleted_by = {row["id"]: row["deleted_by"] for row in rows}
    assert deleted_by[world["tasks"][1].pk]["id"] == acme_manager.pk
    assert deleted_by[world["tasks"][2].pk] is None  # deleted by no one (a system job)
    assert deleted_by[world["tasks"][8].pk]["id"] == acme_admin.pk  # with its project
    assert all(row["deleted_at"] for row in rows)


@pytest.mark.parametrize("zone", ["UTC", "America/Sao_Paulo", "Asia/Kolkata", "Europe/Paris"])
def test_times_are_written_in_the_configured_time_zone_like_drf(
    world, member_client, settings, zone
):
    settings.TIME_ZONE = zone

    fast, reference = both(member_client, TASKS, {"page_size": 200})

    assert_same_page(fast, reference)
    created = fast.json()["results"][0]["created_at"]
    assert created.endswith("Z") if zone == "UTC" else created[-6] in "+-"


def test_a_task_list_page_costs_no_more_queries_than_the_serializer_path(world, member_client):
    member_client.get(TASKS)  # one-time lookups
    with CaptureQueriesContext(connection) as fast:
        member_client.get(TASKS, {"page_size": 200})
    with serializer_path(), CaptureQueriesContext(connection) as reference:
        member_client.get(TASKS, {"page_size": 200})

    assert len(fast.captured_queries) == len(reference.captured_queries)


# --- task detail ---------------------------------------------------------------------------


def test_every_task_detail_is_byte_for_byte_the_serializers(world, manager_client):
    for task in world["tasks"]:
        fast, reference = both(manager_client, f"{TASKS}{task.pk}/")
        assert fast.status_code == reference.status_code
        assert fast.content == reference.content
        assert fast["Content-Type"] == reference["Content-Type"]
    live = [t for t in world["tasks"] if t.pk not in {world["tasks"][1].pk, world["tasks"][2].pk}]
    assert manager_client.get(f"{TASKS}{live[0].pk}/").status_code == 200


def test_a_detail_still_applies_the_filters_and_answers_the_same_404(world, member_client):
    task = world["tasks"][0]  # NEW
    for params in ({"status": "DONE"}, {"status": "NEW"}, {"project": world["doomed"].pk}):
        fast, reference = both(member_client, f"{TASKS}{task.pk}/", params)
        assert fast.status_code == reference.status_code
        assert fast.content == reference.content
    assert member_client.get(f"{TASKS}{task.pk}/", {"status": "DONE"}).status_code == 404


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"status": "LATE"},
        {"project": "1.5"},
        {"due_before": "31/12/2025"},
        {"overdue": "yes"},
        {"ordering": "title"},
        {"cursor": "forged"},
        {"page_size": "0"},
        {"search": "ab"},
    ],
)
def test_a_bad_parameter_is_the_same_400(world, member_client, params):
    fast, reference = both(member_client, TASKS, params)

    assert fast.status_code == reference.status_code == 400
    assert fast.content == reference.content


def test_errors_of_a_detail_and_of_the_history_are_the_same_json(world, member_client, acme):
    outsider = client_for(make_user(), acme)  # not a member: 403
    for client, path in (
        (member_client, f"{TASKS}999999999/"),
        (member_client, f"{TASKS}{world['tasks'][1].pk}/activity/"),  # trashed: managers only
        (outsider, TASKS),
    ):
        fast, reference = both(client, path)
        assert fast.status_code == reference.status_code >= 400
        assert fast.content == reference.content


# --- activity --------------------------------------------------------------------------------


def test_the_activity_log_is_the_same_json_for_every_filter(world, acme, member_client):
    people, tasks = world["people"], world["tasks"]
    with tenant_context(acme):
        # Entries newer than every task's: `since` then cuts the log in two.
        middle = Task.all_objects.order_by("created_at").values_list("created_at", flat=True)[
            len(tasks) // 2
        ]
    for filters in (
        {},
        {"project": world["projects"][0].pk},
        {"task": tasks[3].pk},
        {"actor": people[0].pk},
        {"actor": "me"},
        {"verb": "created"},
        {"verb": "assigned,deleted"},
        {"since": middle.isoformat()},
    ):
        for ordering in ("-created_at", "created_at"):
            assert_same_walk(
                member_client, ACTIVITY, {**filters, "ordering": ordering, "page_size": 9}
            )
    fast, reference = both(member_client, ACTIVITY, {"page_size": 200})
    assert fast.content == reference.content
    actors = [row["actor"] for row in fast.json()["results"]]
    assert None in actors and any(actor and actor["email"] for actor in actors)


def test_a_tasks_history_is_the_same_json(world, manager_client):
    for task in world["tasks"][:12]:  # live, trashed (manager), renamed, assigned
        fast, reference = both(manager_client, f"{TASKS}{task.pk}/activity/", {"page_size": 2})
        assert_same_page(fast, reference)
        assert_same_walk(manager_client, f"{TASKS}{task.pk}/activity/", {"page_size": 2})


# --- what the fast path relies on -----------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["", "ordering=due_date", "ordering=-due_date&page_size=3", "unknown=1"]
)
def test_task_filter_leaves_the_rows_as_they_are_without_filter_parameters(
    acme, acme_member, query
):
    """What TaskViewSet.filterset_unchanged_without_parameters vouches for: without any of its
    parameters, TaskFilter (its own filter_queryset included) adds nothing to the query."""
    request = mock.Mock(query_params=QueryDict(query), user=acme_member)
    with tenant_context(acme):
        queryset = task_list()
        filtered = TaskFilter(QueryDict(query), queryset=queryset, request=request)
        assert filtered.is_valid()
        assert str(filtered.qs.query) == str(queryset.query)


def test_the_openapi_schema_of_the_fast_reads_is_the_serializers(acme):
    """drf-spectacular describes the reads from the serializers, filters and paginator, as
    before: the schema is the same with the serializer path."""

    def schema() -> dict:
        response = client_for(None, acme).get("/api/schema/", {"format": "json"})
        assert response.status_code == 200, response.content
        return yaml.safe_load(response.content)

    fast = schema()
    with serializer_path():
        reference = schema()

    operations = [
        ("/api/tasks/", "get"),
        ("/api/tasks/{id}/", "get"),
        ("/api/tasks/{id}/activity/", "get"),
        ("/api/activity/", "get"),
    ]
    for path, method in operations:
        assert fast["paths"][path][method] == reference["paths"][path][method]
    assert fast["components"] == reference["components"]
    parameters = {p["name"] for p in fast["paths"]["/api/tasks/"]["get"]["parameters"]}
    assert {"status", "assignee", "overdue", "cursor", "ordering"} <= parameters
    assert fast["paths"]["/api/tasks/"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/PaginatedTaskList"}
