"""bench/views.py: the throughput benchmark's reference views answer the API's first page, and
only the benchmark's settings mount them; bench/throughput.py's latency pairs compare full
pages."""

import pytest
from django.test import override_settings

from bench.throughput import _page_of_history
from shared_apps.organizations.models import Role
from tests.factories import client_for, make_member, make_project, make_task

pytestmark = pytest.mark.django_db

REFERENCES = ("/api/bench/drf-tasks/", "/api/bench/floor-tasks/")


@pytest.fixture
def page(acme, acme_manager):
    """acme with 60 tasks (some undated, some with two assignees): more than one page."""
    people = [make_member(acme, Role.MEMBER) for _ in range(2)]
    project = make_project(acme, created_by=acme_manager)
    for index in range(60):
        make_task(
            acme,
            project=project,
            created_by=acme_manager,
            title=f"Bench task {index} é",
            due_date=None if index % 3 else f"2026-05-{1 + index % 28:02d}",
            assignee_ids=[person.pk for person in people[: index % 3]],
        )


@override_settings(ROOT_URLCONF="bench.urls_tenants")
def test_the_bare_and_floor_views_answer_the_apis_first_page(acme, acme_member, page):
    client = client_for(acme_member, acme)
    expected = client.get("/api/tasks/").json()["results"]

    bare = client.get(REFERENCES[0])
    floor = client.get(REFERENCES[1])

    assert len(expected) == 50
    assert bare.status_code == floor.status_code == 200
    assert bare.json() == expected
    assert floor.json() == {"results": expected}


@override_settings(ROOT_URLCONF="bench.urls_tenants")
@pytest.mark.parametrize("path", REFERENCES)
def test_the_reference_views_need_a_token(acme, path):
    response = client_for(None, acme).get(path)

    assert response.status_code == 401


@pytest.mark.parametrize("path", REFERENCES)
def test_the_product_does_not_mount_them(acme, acme_member, path):
    response = client_for(acme_member, acme).get(path)

    assert response.status_code == 404


def test_the_latency_pairs_answer_a_full_page_of_the_tasks_updates(acme, acme_manager):
    """The activity list and the task's history on each side of a pair: a full page, whatever
    the organization held before (one built by COPY holds a handful of entries)."""
    task = make_task(
        acme, project=make_project(acme, created_by=acme_manager), created_by=acme_manager
    )
    _page_of_history(acme, task, acme_manager)
    client = client_for(acme_manager, acme)

    listed = client.get("/api/activity/").json()["results"]
    history = client.get(f"/api/tasks/{task.pk}/activity/").json()["results"]

    assert len(listed) == len(history) == 50
    assert {(entry["verb"], entry["target_id"]) for entry in listed} == {("updated", task.pk)}
    assert [entry["id"] for entry in history] == [entry["id"] for entry in listed]
