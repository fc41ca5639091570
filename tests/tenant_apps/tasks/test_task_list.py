"""GET /api/tasks/: filters, orderings, keyset pagination and constant query counts."""

import base64
import datetime
import json
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared_apps.organizations.models import Role
from tenant_apps.projects.models import Project
from tenant_apps.tasks.models import Task
from tests.factories import client_for, make_member, make_project, make_task

pytestmark = pytest.mark.django_db

TASKS_URL = "/api/tasks/"
PROJECTS_URL = "/api/projects/"
ORDERINGS = ["created_at", "-created_at", "priority", "-priority", "due_date", "-due_date"]
RANK = {"LOW": 1, "MEDIUM": 2, "HIGH": 3}
BASE_TIME = datetime.datetime(2025, 3, 1, 9, 0, tzinfo=datetime.UTC)
BASE_DATE = datetime.date(2025, 3, 10)


# --- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture
def project(acme, acme_manager):
    """A project of acme."""
    return make_project(acme, created_by=acme_manager)


@pytest.fixture
def member_client(acme, acme_member):
    """acme_member's API client on acme's host."""
    return client_for(acme_member, acme)


def _bulk_tasks(organization, *, project, created_by, specs) -> list[Task]:
    """Insert tasks in one statement; a spec's `created_at` is applied afterwards (auto_now_add
    ignores it on insert). Returns the rows as stored, in insertion order."""
    with tenant_context(organization):
        rows = Task.objects.bulk_create(
            Task(
                project=project,
                created_by=created_by,
                title=spec.get("title", f"Bulk task {index}"),
                **{k: v for k, v in spec.items() if k not in {"title", "created_at"}},
            )
            for index, spec in enumerate(specs)
        )
        by_time: dict[datetime.datetime, list[int]] = {}
        for row, spec in zip(rows, specs, strict=True):
            if "created_at" in spec:
                by_time.setdefault(spec["created_at"], []).append(row.pk)
        for created_at, ids in by_time.items():
            Task.objects.filter(pk__in=ids).update(created_at=created_at)
        stored = Task.objects.in_bulk([row.pk for row in rows])
        return [stored[row.pk] for row in rows]


def _tied_specs(count: int = 20) -> list[dict]:
    """Tasks sharing few created_at values, priorities and due dates (some without one)."""
    priorities = ["LOW", "HIGH", "MEDIUM"]
    dues = [BASE_DATE, None, BASE_DATE + datetime.timedelta(days=2), BASE_DATE, None]
    return [
        {
            "created_at": BASE_TIME + datetime.timedelta(hours=index % 4),
            "priority": priorities[index % 3],
            "due_date": dues[index % 5],
        }
        for index in range(count)
    ]


def _expected(tasks: list[Task], ordering: str) -> list[int]:
    """The contract's order: key, then id, both in the requested direction; no due date last."""
    descending = ordering.startswith("-")
    name = ordering.removeprefix("-")
    if name == "created_at":
        key = lambda t: t.created_at  # noqa: E731
    elif name == "priority":
        key = lambda t: RANK[t.priority]  # noqa: E731
    else:
        missing = datetime.date.min if descending else datetime.date.max
        key = lambda t: t.due_date or missing  # noqa: E731
    return [t.pk for t in sorted(tasks, key=lambda t: (key(t), t.pk), reverse=descending)]


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def _path(link: str) -> str:
    """An absolute `next`/`previous` link as a path the test client can request."""
    parts = urlsplit(link)
    assert parts.hostname == "acme.localhost"
    return f"{parts.path}?{parts.query}"


def _walk(client, params: dict, *, after_each_page=None) -> list[dict]:
    """Follow `next` from the first page to the last; returns every page's JSON body."""
    pages = [client.get(TASKS_URL, params)]
    while True:
        assert pages[-1].status_code == 200, pages[-1].content
        if after_each_page is not None:
            after_each_page()
        link = pages[-1].json()["next"]
        if link is None:
            return [page.json() for page in pages]
        pages.append(client.get(_path(link)))
        assert len(pages) < 100, "pagination does not terminate"


def _flatten(pages: list[dict]) -> list[int]:
    return [row["id"] for page in pages for row in page["results"]]


def _errors(response) -> dict:
    assert response.status_code == 400, (response.status_code, response.content)
    return response.json()


# --- filters ------------------------------------------------------------------------------


def test_project_filter_returns_only_that_projects_tasks(
    acme, acme_manager, project, member_client
):
    other = make_project(acme, created_by=acme_manager)
    mine = make_task(acme, project=project, created_by=acme_manager)
    make_task(acme, project=other, created_by=acme_manager)

    assert _ids(member_client.get(TASKS_URL, {"project": project.pk})) == [mine.pk]


def test_status_filter_takes_one_or_several_comma_separated_values(
    acme, acme_manager, project, member_client
):
    new = make_task(acme, project=project, created_by=acme_manager, status="NEW")
    doing = make_task(acme, project=project, created_by=acme_manager, status="IN_PROGRESS")
    done = make_task(acme, project=project, created_by=acme_manager, status="DONE")

    assert set(_ids(member_client.get(TASKS_URL, {"status": "DONE"}))) == {done.pk}
    assert set(_ids(member_client.get(TASKS_URL, {"status": "NEW,DONE"}))) == {new.pk, done.pk}
    assert set(_ids(member_client.get(TASKS_URL, {"status": "NEW,IN_PROGRESS,DONE"}))) == {
        new.pk,
        doing.pk,
        done.pk,
    }


def test_priority_filter_returns_tasks_of_that_priority(acme, acme_manager, project, member_client):
    high = make_task(acme, project=project, created_by=acme_manager, priority="HIGH")
    low = make_task(acme, project=project, created_by=acme_manager, priority="LOW")
    make_task(acme, project=project, created_by=acme_manager, priority="MEDIUM")

    assert _ids(member_client.get(TASKS_URL, {"priority": "HIGH"})) == [high.pk]
    assert set(_ids(member_client.get(TASKS_URL, {"priority": "HIGH,LOW"}))) == {high.pk, low.pk}


def test_assignee_filter_takes_a_user_id_or_me_and_lists_each_task_once(
    acme, acme_manager, acme_member, project, member_client
):
    colleague = make_member(acme, Role.MEMBER)
    shared = make_task(
        acme, project=project, created_by=acme_manager, assignee_ids=[acme_member.pk, colleague.pk]
    )
    only_mine = make_task(
        acme, project=project, created_by=acme_manager, assignee_ids=[acme_member.pk]
    )
    only_theirs = make_task(
        acme, project=project, created_by=acme_manager, assignee_ids=[colleague.pk]
    )
    make_task(acme, project=project, created_by=acme_manager)

    assert _ids(member_client.get(TASKS_URL, {"assignee": "me"})) == [only_mine.pk, shared.pk]
    assert _ids(member_client.get(TASKS_URL, {"assignee": acme_member.pk})) == [
        only_mine.pk,
        shared.pk,
    ]
    assert _ids(member_client.get(TASKS_URL, {"assignee": colleague.pk})) == [
        only_theirs.pk,
        shared.pk,
    ]


def test_assignee_me_means_the_requesting_user(acme, acme_manager, acme_member, project):
    task = make_task(acme, project=project, created_by=acme_manager, assignee_ids=[acme_manager.pk])

    assert _ids(client_for(acme_manager, acme).get(TASKS_URL, {"assignee": "me"})) == [task.pk]
    assert _ids(client_for(acme_member, acme).get(TASKS_URL, {"assignee": "me"})) == []


def test_created_by_filter_returns_tasks_that_user_created(
    acme, acme_admin, acme_manager, project, member_client
):
    by_admin = make_task(acme, project=project, created_by=acme_admin)
    make_task(acme, project=project, created_by=acme_manager)

    assert _ids(member_client.get(TASKS_URL, {"created_by": acme_admin.pk})) == [by_admin.pk]


def test_due_before_and_due_after_are_inclusive_and_skip_tasks_without_a_due_date(
    acme, acme_manager, project, member_client
):
    day = datetime.timedelta(days=1)
    earlier, on_day, later = (
        make_task(acme, project=project, created_by=acme_manager, due_date=BASE_DATE + offset)
        for offset in (-day, datetime.timedelta(0), day)
    )
    make_task(acme, project=project, created_by=acme_manager, due_date=None)
    iso = BASE_DATE.isoformat()

    assert set(_ids(member_client.get(TASKS_URL, {"due_before": iso}))) == {earlier.pk, on_day.pk}
    assert set(_ids(member_client.get(TASKS_URL, {"due_after": iso}))) == {on_day.pk, later.pk}
    assert _ids(member_client.get(TASKS_URL, {"due_after": iso, "due_before": iso})) == [on_day.pk]


def test_overdue_true_and_false_split_the_tasks_in_two(acme, acme_manager, project, member_client):
    today = timezone.localdate()
    day = datetime.timedelta(days=1)

    def task(due, status="NEW"):
        return make_task(
            acme, project=project, created_by=acme_manager, due_date=due, status=status
        ).pk

    late = task(today - day)
    late_in_progress = task(today - day, "IN_PROGRESS")
    late_but_done = task(today - day, "DONE")
    due_today = task(today)
    due_tomorrow = task(today + day)
    no_due_date = task(None)

    overdue = set(_ids(member_client.get(TASKS_URL, {"overdue": "true"})))
    not_overdue = set(_ids(member_client.get(TASKS_URL, {"overdue": "false"})))

    assert overdue == {late, late_in_progress}
    assert not_overdue == {late_but_done, due_today, due_tomorrow, no_due_date}


@pytest.mark.parametrize(
    ("time_zone", "overdue_expected"),
    [("UTC", False), ("Pacific/Kiritimati", True)],  # UTC+14: already tomorrow there
)
def test_overdue_means_before_today_in_the_configured_time_zone(
    acme, acme_manager, project, member_client, time_zone, overdue_expected
):
    # 23:30 UTC today: still today in UTC, already the next day in Kiritimati.
    utc_today = timezone.now().astimezone(datetime.UTC).date()
    late_evening = datetime.datetime.combine(utc_today, datetime.time(23, 30), tzinfo=datetime.UTC)
    task = make_task(acme, project=project, created_by=acme_manager, due_date=utc_today)

    with (
        override_settings(TIME_ZONE=time_zone),
        mock.patch("django.utils.timezone.now", return_value=late_evening),
    ):
        overdue = _ids(member_client.get(TASKS_URL, {"overdue": "true"}))
        not_overdue = _ids(member_client.get(TASKS_URL, {"overdue": "false"}))

    assert (task.pk in overdue) is overdue_expected
    assert (task.pk in not_overdue) is not overdue_expected


def test_search_matches_the_title_case_insensitively(acme, acme_manager, project, member_client):
    upper = make_task(acme, project=project, created_by=acme_manager, title="Quarterly REPORT")
    lower = make_task(acme, project=project, created_by=acme_manager, title="report card")
    make_task(
        acme, project=project, created_by=acme_manager, title="Unrelated", description="report"
    )

    assert set(_ids(member_client.get(TASKS_URL, {"search": "RePoRt"}))) == {upper.pk, lower.pk}


def test_search_treats_wildcard_characters_literally(acme, acme_manager, project, member_client):
    percent = make_task(acme, project=project, created_by=acme_manager, title="50% done")
    make_task(acme, project=project, created_by=acme_manager, title="500 done")
    underscore = make_task(acme, project=project, created_by=acme_manager, title="file_name")
    make_task(acme, project=project, created_by=acme_manager, title="filename")

    assert _ids(member_client.get(TASKS_URL, {"search": "50%"})) == [percent.pk]
    assert _ids(member_client.get(TASKS_URL, {"search": "e_n"})) == [underscore.pk]


def test_filters_combine_with_and(acme, acme_manager, project, member_client):
    match = make_task(acme, project=project, created_by=acme_manager, status="NEW", priority="HIGH")
    make_task(acme, project=project, created_by=acme_manager, status="NEW", priority="LOW")
    make_task(acme, project=project, created_by=acme_manager, status="DONE", priority="HIGH")

    assert _ids(member_client.get(TASKS_URL, {"status": "NEW", "priority": "HIGH"})) == [match.pk]


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("due_before", "2025-13-01"),
        ("due_before", "yesterday"),
        ("due_after", "2025-02-30"),
        ("due_after", "31/12/2025"),
        ("status", "NEW,BLOCKED"),
        ("status", "BLOCKED"),
        ("status", "new"),
        ("priority", "URGENT"),
        ("assignee", "abc"),
        ("assignee", "0"),
        ("assignee", "-3"),
        ("project", "abc"),
        ("project", "0"),
        ("created_by", "abc"),
        ("overdue", "maybe"),
        ("overdue", "yes"),
        ("search", "x" * 201),
        ("ordering", "title"),
        ("ordering", "priority_rank"),  # the column behind "priority" is not a public name
        ("ordering", "--created_at"),
        ("cursor", "garbage"),
        ("page_size", "abc"),
        ("page_size", "0"),
        ("page_size", "-5"),
    ],
)
def test_a_malformed_parameter_answers_400_naming_it(member_client, parameter, value):
    response = member_client.get(TASKS_URL, {parameter: value})

    assert parameter in _errors(response)


def _cursor(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


@pytest.mark.parametrize(
    "payload",
    [
        {"k": "not-a-time", "i": 1, "b": False, "o": "-created_at"},
        {"k": {"a": 1}, "i": 1, "b": False, "o": "-created_at"},
        {"k": None, "i": 1, "b": False, "o": "-created_at"},
        {"k": "HIGH", "i": 1, "b": False, "o": "priority"},
        {"k": [3], "i": 1, "b": False, "o": "-priority"},
        {"k": "2025-02-30", "i": 1, "b": False, "o": "due_date"},
        {"k": 2, "i": "one", "b": False, "o": "priority"},
        {"k": 2, "i": 1, "b": False},
        ["not", "an", "object"],
        "just a string",
    ],
    ids=[
        "bad-datetime",
        "object-as-datetime",
        "null-key",
        "word-as-rank",
        "list-as-rank",
        "impossible-date",
        "non-numeric-id",
        "no-ordering",
        "list",
        "string",
    ],
)
def test_a_tampered_cursor_answers_400_naming_cursor(
    acme, acme_manager, project, member_client, payload
):
    # A cursor is opaque but comes from the client: a forged one must not reach the database.
    make_task(acme, project=project, created_by=acme_manager)

    response = member_client.get(TASKS_URL, {"cursor": _cursor(payload)})

    assert "cursor" in _errors(response)


@pytest.mark.parametrize(
    "raw",
    [
        '{"k": "2025-03-01T09:00:00+00:00", "i": 1000000000000000000000000000000, "b": false, "o": "-created_at"}',
        '{"k": 1000000000000000000000000000000, "i": 1, "b": false, "o": "priority"}',
        '{"k": 1e300, "i": 1, "b": false, "o": "-priority"}',
        '{"k": Infinity, "i": 1, "b": false, "o": "priority"}',
        '{"k": NaN, "i": 1, "b": false, "o": "priority"}',
        '{"k": true, "i": 1, "b": false, "o": "-created_at"}',
        '{"k": 20250301, "i": 1, "b": false, "o": "due_date"}',
    ],
    ids=[
        "huge-id",
        "huge-rank",
        "float-rank",
        "infinite-rank",
        "nan-rank",
        "bool-time",
        "number-date",
    ],
)
def test_an_out_of_range_cursor_is_not_a_server_error(
    acme, acme_manager, project, member_client, raw
):
    make_task(acme, project=project, created_by=acme_manager)

    response = member_client.get(
        TASKS_URL, {"cursor": base64.urlsafe_b64encode(raw.encode()).decode()}
    )

    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert "cursor" in response.json()


def test_a_cursor_cannot_be_reused_with_another_ordering(
    acme, acme_manager, project, member_client
):
    for _ in range(3):
        make_task(acme, project=project, created_by=acme_manager)
    next_link = member_client.get(TASKS_URL, {"page_size": 1, "ordering": "priority"}).json()[
        "next"
    ]
    cursor = parse_qs(urlsplit(next_link).query)["cursor"][0]

    response = member_client.get(TASKS_URL, {"cursor": cursor, "ordering": "-due_date"})

    assert "cursor" in _errors(response)


@pytest.mark.parametrize("parameter", ["project", "assignee", "created_by"])
def test_an_out_of_range_id_filter_is_not_a_server_error(member_client, parameter):
    response = member_client.get(TASKS_URL, {parameter: "9" * 25})

    assert response.status_code in (200, 400), response.content
    if response.status_code == 200:
        assert response.json()["results"] == []
    else:
        assert parameter in response.json()


# --- ordering -----------------------------------------------------------------------------


def test_default_order_is_newest_first_with_ties_broken_by_id(
    acme, acme_manager, project, member_client
):
    tasks = _bulk_tasks(acme, project=project, created_by=acme_manager, specs=_tied_specs(8))

    assert _ids(member_client.get(TASKS_URL)) == _expected(tasks, "-created_at")


def test_priority_orders_by_severity_not_alphabetically(acme, acme_manager, project, member_client):
    low, high, medium = _bulk_tasks(
        acme,
        project=project,
        created_by=acme_manager,
        specs=[{"priority": "LOW"}, {"priority": "HIGH"}, {"priority": "MEDIUM"}],
    )

    assert _ids(member_client.get(TASKS_URL, {"ordering": "-priority"})) == [
        high.pk,
        medium.pk,
        low.pk,
    ]
    assert _ids(member_client.get(TASKS_URL, {"ordering": "priority"})) == [
        low.pk,
        medium.pk,
        high.pk,
    ]


@pytest.mark.parametrize("ordering", ["due_date", "-due_date"])
def test_tasks_without_a_due_date_come_last_in_both_directions(
    acme, acme_manager, project, member_client, ordering
):
    undated_1, early, undated_2, late = _bulk_tasks(
        acme,
        project=project,
        created_by=acme_manager,
        specs=[
            {"due_date": None},
            {"due_date": BASE_DATE},
            {"due_date": None},
            {"due_date": BASE_DATE + datetime.timedelta(days=5)},
        ],
    )
    dated = [early.pk, late.pk] if ordering == "due_date" else [late.pk, early.pk]
    undated = (
        [undated_1.pk, undated_2.pk] if ordering == "due_date" else [undated_2.pk, undated_1.pk]
    )

    assert _ids(member_client.get(TASKS_URL, {"ordering": ordering})) == dated + undated


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_one_page_is_in_the_requested_order_with_ties_broken_by_id(
    acme, acme_manager, project, member_client, ordering
):
    tasks = _bulk_tasks(acme, project=project, created_by=acme_manager, specs=_tied_specs())

    assert _ids(member_client.get(TASKS_URL, {"ordering": ordering})) == _expected(tasks, ordering)


# --- cursor pagination --------------------------------------------------------------------


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_walking_every_page_lists_each_task_once_in_order(
    acme, acme_manager, project, member_client, ordering
):
    tasks = _bulk_tasks(acme, project=project, created_by=acme_manager, specs=_tied_specs(20))

    pages = _walk(member_client, {"ordering": ordering, "page_size": 3})

    assert [len(page["results"]) for page in pages] == [3] * 6 + [2]
    assert _flatten(pages) == _expected(tasks, ordering)
    assert set(pages[0]) == {"next", "previous", "results"}
    assert pages[0]["previous"] is None
    assert pages[-1]["next"] is None


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_walking_with_filters_keeps_them_on_every_page(
    acme, acme_manager, project, member_client, ordering
):
    tasks = _bulk_tasks(acme, project=project, created_by=acme_manager, specs=_tied_specs(20))
    wanted = [task for task in tasks if task.priority != "MEDIUM"]

    pages = _walk(member_client, {"ordering": ordering, "page_size": 2, "priority": "HIGH,LOW"})

    assert _flatten(pages) == _expected(wanted, ordering)


@pytest.mark.parametrize(
    ("ordering", "new_priority"), [("-created_at", "MEDIUM"), ("-priority", "HIGH")]
)
def test_tasks_created_while_walking_cause_no_duplicates_or_skips(
    acme, acme_manager, project, member_client, ordering, new_priority
):
    # The new rows sort before the pages already read: offset paging would repeat rows.
    tasks = _bulk_tasks(acme, project=project, created_by=acme_manager, specs=_tied_specs(20))
    created = []

    def insert_two():
        for _ in range(2):
            created.append(
                make_task(acme, project=project, created_by=acme_manager, priority=new_priority).pk
            )

    seen = _flatten(
        _walk(member_client, {"ordering": ordering, "page_size": 3}, after_each_page=insert_two)
    )

    assert len(seen) == len(set(seen))
    assert [pk for pk in seen if pk not in created] == _expected(tasks, ordering)


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_previous_leads_back_to_the_exact_previous_page(
    acme, acme_manager, project, member_client, ordering
):
    _bulk_tasks(acme, project=project, created_by=acme_manager, specs=_tied_specs(20))
    pages = _walk(member_client, {"ordering": ordering, "page_size": 3})

    for index in range(1, len(pages)):
        back = member_client.get(_path(pages[index]["previous"]))
        assert _ids(back) == [row["id"] for row in pages[index - 1]["results"]], index
        # ...and that page's `next` returns to where we were.
        forward = member_client.get(_path(back.json()["next"]))
        assert _ids(forward) == [row["id"] for row in pages[index]["results"]], index
        if index == 1:
            assert back.json()["previous"] is None


@pytest.mark.parametrize("ordering", ["-created_at", "priority", "due_date"])
def test_a_next_link_still_works_after_its_last_task_is_deleted(
    acme, acme_manager, project, member_client, ordering
):
    tasks = _bulk_tasks(acme, project=project, created_by=acme_manager, specs=_tied_specs(9))
    first = member_client.get(TASKS_URL, {"ordering": ordering, "page_size": 3}).json()
    with tenant_context(acme):
        Task.objects.filter(pk=first["results"][-1]["id"]).delete()

    second = member_client.get(_path(first["next"]))

    assert _ids(second) == _expected(tasks, ordering)[3:6]


@pytest.fixture
def tasks_250(acme, acme_manager, project):
    """250 tasks in acme, inserted in one statement."""
    return _bulk_tasks(acme, project=project, created_by=acme_manager, specs=[{}] * 250)


def test_page_size_defaults_to_50(member_client, tasks_250):
    body = member_client.get(TASKS_URL).json()

    assert len(body["results"]) == 50
    assert body["next"] is not None


def test_page_size_is_capped_at_200(member_client, tasks_250):
    capped = member_client.get(TASKS_URL, {"page_size": 500}).json()
    rest = member_client.get(_path(capped["next"])).json()

    assert len(capped["results"]) == 200
    assert len(rest["results"]) == 50
    assert rest["next"] is None
    assert set(_flatten([capped, rest])) == {task.pk for task in tasks_250}


def test_pages_run_no_count_and_no_offset(member_client, tasks_250):
    with CaptureQueriesContext(connection) as first:
        body = member_client.get(TASKS_URL, {"page_size": 100}).json()
    with CaptureQueriesContext(connection) as deep:
        member_client.get(_path(member_client.get(_path(body["next"])).json()["next"]))

    sql = [query["sql"].upper() for query in [*first.captured_queries, *deep.captured_queries]]
    assert not [statement for statement in sql if "COUNT(" in statement]
    assert not [statement for statement in sql if "OFFSET" in statement]


# --- constant query counts ----------------------------------------------------------------


def _query_count(client, path: str, params: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(path, params or {})
    assert response.status_code == 200, response.content
    return len(context.captured_queries)


def test_task_list_query_count_does_not_grow_with_page_size(
    acme, acme_manager, project, member_client
):
    assignees = [make_member(acme, Role.MEMBER) for _ in range(3)]
    tasks = _bulk_tasks(acme, project=project, created_by=acme_manager, specs=[{}] * 200)
    with tenant_context(acme):
        through = Task.assignees.through
        through.objects.bulk_create(
            through(task_id=task.pk, user_id=user.pk)
            for task in tasks
            for user in assignees[: 1 + task.pk % 3]
        )
    _query_count(member_client, TASKS_URL)  # warm-up: one-time lookups are not what we compare

    one = _query_count(member_client, TASKS_URL, {"page_size": 1})
    two_hundred = _query_count(member_client, TASKS_URL, {"page_size": 200})

    assert one == two_hundred


def test_task_detail_query_count_does_not_grow_with_assignees(
    acme, acme_manager, project, member_client
):
    team = [make_member(acme, Role.MEMBER) for _ in range(10)]
    alone = make_task(acme, project=project, created_by=acme_manager)
    crowded = make_task(
        acme, project=project, created_by=acme_manager, assignee_ids=[u.pk for u in team]
    )
    _query_count(member_client, f"{TASKS_URL}{alone.pk}/")  # warm-up

    without = _query_count(member_client, f"{TASKS_URL}{alone.pk}/")
    with_ten = _query_count(member_client, f"{TASKS_URL}{crowded.pk}/")

    assert len(member_client.get(f"{TASKS_URL}{crowded.pk}/").json()["assignees"]) == 10
    assert without == with_ten


def test_project_list_query_count_does_not_grow_with_page_size(
    acme, acme_admin, acme_manager, member_client
):
    creators = [acme_admin, acme_manager, make_member(acme, Role.MANAGER)]
    with tenant_context(acme):
        Project.objects.bulk_create(
            Project(name=f"Bulk project {index}", created_by=creators[index % 3])
            for index in range(50)
        )
    _query_count(member_client, PROJECTS_URL)  # warm-up

    one = _query_count(member_client, PROJECTS_URL, {"page_size": 1})
    fifty = _query_count(member_client, PROJECTS_URL, {"page_size": 50})

    assert len(member_client.get(PROJECTS_URL, {"page_size": 50}).json()["results"]) == 50
    assert one == fifty


# --- whole-number id filters (IdFilter) -----------------------------------------------------


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("project", "1.9"),
        ("project", "1.5"),
        ("project", "-1"),
        ("project", "1e2"),
        ("created_by", "2.5"),
        ("created_by", "0"),
        ("created_by", "-2"),
        ("created_by", "2,3"),
    ],
)
def test_an_id_filter_that_is_not_a_whole_positive_number_answers_400_naming_it(
    member_client, parameter, value
):
    response = member_client.get(TASKS_URL, {parameter: value})

    assert set(_errors(response)) == {parameter}


def test_a_fractional_project_id_is_not_truncated_to_a_real_project(
    acme, acme_manager, project, member_client
):
    # Before IdFilter, `?project=<id>.9` silently meant project <id>.
    make_task(acme, project=project, created_by=acme_manager)

    response = member_client.get(TASKS_URL, {"project": f"{project.pk}.9"})

    assert set(_errors(response)) == {"project"}


def test_a_fractional_creator_id_is_not_truncated_to_a_real_user(
    acme, acme_manager, project, member_client
):
    make_task(acme, project=project, created_by=acme_manager)

    response = member_client.get(TASKS_URL, {"created_by": f"{acme_manager.pk}.5"})

    assert set(_errors(response)) == {"created_by"}


def test_whole_number_id_filters_still_match(acme, acme_manager, project, member_client):
    task = make_task(acme, project=project, created_by=acme_manager)

    assert _ids(member_client.get(TASKS_URL, {"project": str(project.pk)})) == [task.pk]
    assert _ids(member_client.get(TASKS_URL, {"created_by": str(acme_manager.pk)})) == [task.pk]


def test_a_task_list_page_costs_exactly_three_queries(acme, globex, acme_admin, acme_member):
    """The token (with its user and the membership role: no sweep of the user's other
    tokens), the page, and one query for every assignee on it. Routing remembers the host's
    organization, and sends no SET search_path while the connection already has its schema
    (saas/db/session); after a query elsewhere, that SET is a fourth."""
    project = make_project(acme, created_by=acme_admin)
    for _ in range(3):
        make_task(acme, project=project, created_by=acme_admin, assignee_ids=[acme_member.pk])
    client = client_for(acme_member, acme)
    client.get(TASKS_URL)

    with CaptureQueriesContext(connection) as captured:
        response = client.get(TASKS_URL, {"page_size": 200})
    with tenant_context(globex):
        Task.objects.exists()  # the connection now has globex's schema
    with CaptureQueriesContext(connection) as after_globex:
        again = client.get(TASKS_URL, {"page_size": 200})

    assert response.status_code == again.status_code == 200
    assert len(response.json()["results"]) == len(again.json()["results"]) == 3
    assert len(captured.captured_queries) == 3
    assert "organizations_membership" in captured.captured_queries[0]["sql"]
    assert not [q for q in captured.captured_queries if q["sql"].startswith("SET search_path")]
    assert len(after_globex.captured_queries) == 4
    assert after_globex.captured_queries[0]["sql"] == (
        f'SET search_path = "{acme.schema_name}","public"'
    )
