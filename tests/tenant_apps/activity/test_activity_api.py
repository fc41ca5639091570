"""GET /api/activity/ and GET /api/tasks/{id}/activity/: every member reads them, newest first,
keyset-paginated, strictly filtered; nobody can write through them."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared_apps.organizations.models import Role
from tenant_apps.activity.models import Activity
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.services import task_delete, task_update, trash_purge
from tests.factories import client_for, make_member, make_project, make_task

pytestmark = pytest.mark.django_db

ACTIVITY = "/api/activity/"
ENTRY_FIELDS = {
    "id",
    "actor",
    "verb",
    "target_type",
    "target_id",
    "target_label",
    "changes",
    "created_at",
}


@pytest.fixture
def history(acme, acme_manager, acme_admin):
    """Two projects of acme with a task each, one task retitled by the ADMIN, then marked done
    by the MANAGER; returns them by name."""
    alpha = make_project(acme, created_by=acme_manager, name="Alpha")
    beta = make_project(acme, created_by=acme_manager, name="Beta")
    first = make_task(acme, project=alpha, created_by=acme_manager, title="First")
    second = make_task(acme, project=beta, created_by=acme_manager, title="Second")
    with tenant_context(acme):
        task_update(organization=acme, task=first, data={"title": "First!"}, actor=acme_admin)
        task_update(organization=acme, task=first, data={"status": "DONE"}, actor=acme_manager)
    return {"alpha": alpha, "beta": beta, "first": first, "second": second}


def _results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_every_member_reads_the_log_newest_first_in_the_documented_shape(
    acme, acme_member, acme_admin, acme_manager, history
):
    rows = _results(client_for(acme_member, acme).get(ACTIVITY, {"page_size": 200}))

    assert set(rows[0]) == ENTRY_FIELDS
    newest = rows[0]
    assert newest["verb"] == "updated" and newest["target_type"] == "task"
    assert newest["target_id"] == history["first"].id
    assert newest["target_label"] == "First!"
    assert newest["changes"] == {"status": ["NEW", "DONE"]}
    assert newest["actor"] == {
        "id": acme_manager.id,
        "email": acme_manager.email,
        "full_name": acme_manager.full_name,
    }
    keys = [(row["created_at"], row["id"]) for row in rows]
    assert keys == sorted(keys, reverse=True)


def test_the_task_endpoint_lists_only_that_tasks_history_newest_first(
    acme, acme_member, acme_admin, acme_manager, history
):
    rows = _results(
        client_for(acme_member, acme).get(f"/api/tasks/{history['first'].id}/activity/")
    )

    assert [(row["verb"], row["changes"], row["actor"]["id"]) for row in rows] == [
        ("updated", {"status": ["NEW", "DONE"]}, acme_manager.id),
        ("updated", {"title": ["First", "First!"]}, acme_admin.id),
        (
            "created",
            {
                "project": [None, history["alpha"].id],
                "title": [None, "First"],
                "status": [None, "NEW"],
                "priority": [None, "MEDIUM"],
            },
            acme_manager.id,
        ),
    ]
    assert {row["target_id"] for row in rows} == {history["first"].id}


@pytest.mark.parametrize(
    ("parameter", "expected"),
    [
        ("project", lambda h: {("project", h["alpha"].id), ("task", h["first"].id)}),
        ("task", lambda h: {("task", h["first"].id)}),
    ],
)
def test_project_and_task_filters(acme, acme_member, history, parameter, expected):
    value = history["alpha"].id if parameter == "project" else history["first"].id

    rows = _results(client_for(acme_member, acme).get(ACTIVITY, {parameter: value}))

    assert {(row["target_type"], row["target_id"]) for row in rows} == expected(history)


def test_actor_filter_takes_an_id_or_me(acme, acme_admin, acme_manager, history):
    client = client_for(acme_admin, acme)

    by_id = _results(client.get(ACTIVITY, {"actor": acme_admin.id}))
    by_me = _results(client.get(ACTIVITY, {"actor": "me"}))

    assert by_id == by_me
    assert [(row["verb"], row["changes"]) for row in by_id] == [
        ("updated", {"title": ["First", "First!"]})
    ]


def test_verb_filter_takes_one_or_several_verbs(acme, acme_member, history):
    client = client_for(acme_member, acme)

    updated = _results(client.get(ACTIVITY, {"verb": "updated"}))
    both = _results(client.get(ACTIVITY, {"verb": "updated,created", "page_size": 200}))

    assert {row["verb"] for row in updated} == {"updated"} and len(updated) == 2
    assert {row["verb"] for row in both} == {"updated", "created"}


def test_since_keeps_entries_at_or_after_the_moment(acme, acme_member, acme_manager, history):
    with tenant_context(acme):
        Activity.objects.update(created_at=timezone.now() - datetime.timedelta(days=3))
    task_update_later = make_task(acme, project=history["beta"], created_by=acme_manager)
    client = client_for(acme_member, acme)
    yesterday = timezone.now() - datetime.timedelta(days=1)

    as_datetime = _results(client.get(ACTIVITY, {"since": yesterday.isoformat()}))
    as_date = _results(client.get(ACTIVITY, {"since": yesterday.date().isoformat()}))
    in_utc = _results(client.get(ACTIVITY, {"since": yesterday.strftime("%Y-%m-%dT%H:%M:%SZ")}))

    assert {row["target_id"] for row in as_datetime} == {task_update_later.id}
    assert as_datetime == as_date == in_utc


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("project", "abc"),
        ("project", "1.5"),
        ("project", "0"),
        ("task", "-3"),
        ("task", "x"),
        ("actor", "someone"),
        ("actor", "0"),
        ("verb", "renamed"),
        ("verb", "updated,nope"),
        ("since", "yesterday"),
        ("since", "2026-13-01"),
        ("since", "2026-01-01T10:00:00+99:00"),
        ("ordering", "verb"),
        ("page_size", "many"),
        ("cursor", "forged"),
    ],
)
def test_a_malformed_parameter_answers_400_naming_it(acme, acme_member, parameter, value):
    response = client_for(acme_member, acme).get(ACTIVITY, {parameter: value})

    assert response.status_code == 400, response.content
    assert list(response.json()) == [parameter]


def test_an_offset_postgresql_cannot_store_is_a_400_not_a_server_error(acme, acme_member):
    # Python reads offsets up to 23:59; PostgreSQL refuses those beyond 15:59.
    response = client_for(acme_member, acme).get(ACTIVITY, {"since": "0406-03-03T10:19:58-16:55"})

    assert response.status_code == 200, response.content


def test_walking_every_page_lists_each_entry_once_in_order(acme, acme_member, acme_manager):
    project = make_project(acme, created_by=acme_manager)
    for _ in range(7):
        make_task(acme, project=project, created_by=acme_manager)
    client = client_for(acme_member, acme)
    expected = [row["id"] for row in _results(client.get(ACTIVITY, {"project": project.id}))]

    seen, url = [], f"{ACTIVITY}?project={project.id}&page_size=3"
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]

    assert seen == expected and len(seen) == 8


def test_a_page_costs_the_same_queries_whatever_its_size(acme, acme_member, acme_manager):
    project = make_project(acme, created_by=acme_manager)
    for _ in range(10):
        make_task(acme, project=project, created_by=make_member(acme, Role.MANAGER))
    client = client_for(acme_member, acme)
    client.get(ACTIVITY)

    counts = []
    for size in (2, 10):
        with CaptureQueriesContext(connection) as captured:
            assert len(_results(client.get(ACTIVITY, {"page_size": size}))) == size
        counts.append(len(captured.captured_queries))

    assert counts[0] == counts[1]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("who", ["admin", "member"])
def test_no_method_writes_to_the_log(acme, acme_admin, acme_member, history, method, who):
    client = client_for(acme_admin if who == "admin" else acme_member, acme)
    with tenant_context(acme):
        before = list(Activity.objects.values_list("id", "verb", "changes"))
    entry_id = before[0][0]

    answers = [
        getattr(client, method)(ACTIVITY, {"verb": "deleted"}, format="json"),
        getattr(client, method)(
            f"/api/tasks/{history['first'].id}/activity/", {"verb": "deleted"}, format="json"
        ),
    ]
    detail = getattr(client, method)(f"{ACTIVITY}{entry_id}/", {}, format="json")

    assert [answer.status_code for answer in answers] == [405, 405]
    assert detail.status_code == 404  # there is no URL for a single entry at all
    with tenant_context(acme):
        assert list(Activity.objects.values_list("id", "verb", "changes")) == before


def test_anonymous_and_outsiders_are_refused(acme, globex, history):
    outsider = make_member(globex, Role.ADMIN)

    assert client_for(None, acme).get(ACTIVITY).status_code == 401
    assert client_for(outsider, acme).get(ACTIVITY).status_code == 403
    task_url = f"/api/tasks/{history['first'].id}/activity/"
    assert client_for(outsider, acme).get(task_url).status_code == 403


def test_an_unknown_task_is_not_found(acme, acme_member):
    response = client_for(acme_member, acme).get("/api/tasks/987654321/activity/")

    assert response.status_code == 404


# --- Trashed and purged tasks ---------------------------------------------------------------


@pytest.fixture
def trashed(acme, acme_manager, history):
    """history's second task, in the trash."""
    with tenant_context(acme):
        task_delete(task=history["second"], actor=acme_manager)
    return history["second"]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER])
def test_managers_still_read_a_trashed_tasks_history(acme, trashed, role):
    reader = make_member(acme, role)

    rows = _results(client_for(reader, acme).get(f"/api/tasks/{trashed.id}/activity/"))

    assert [row["verb"] for row in rows] == ["deleted", "created"]


def test_a_member_cannot_see_a_trashed_tasks_history_there(acme, acme_member, trashed):
    # MEMBERs do not see the trash: the task is not found for them, as on its detail URL...
    response = client_for(acme_member, acme).get(f"/api/tasks/{trashed.id}/activity/")

    assert response.status_code == 404
    # ...while the organization's log, readable by all, keeps its entries.
    rows = _results(client_for(acme_member, acme).get(ACTIVITY, {"task": trashed.id}))
    assert [row["verb"] for row in rows] == ["deleted", "created"]


def test_a_purged_tasks_entries_stay_in_the_log_naming_it(acme, acme_admin, trashed):
    with tenant_context(acme):
        trash_purge(deleted_before=timezone.now() + datetime.timedelta(seconds=1))
        assert not Task.all_objects.filter(pk=trashed.pk).exists()
    client = client_for(acme_admin, acme)

    rows = _results(client.get(ACTIVITY, {"task": trashed.id}))

    assert [(row["verb"], row["target_label"]) for row in rows] == [
        ("deleted", "Second"),
        ("created", "Second"),
    ]
    assert client.get(f"/api/tasks/{trashed.id}/activity/").status_code == 404
