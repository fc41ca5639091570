"""bench/load: the load run at CI size (30 s of `make load`'s 5 minutes), on this test run's
database: 50 locust users over 10 seeded organizations against gunicorn on loopback, 80%
reads and 20% writes, answer no 5xx, never another organization's data, and hold the server's
database connections and its workers' memory within their bounds. And the check that judges
each answer catches another organization's data."""

import os

import pytest
from django.conf import settings

from bench.load.checks import verdict
from bench.load.run import Settings, libpq_keywords, run
from bench.load.world import world_as_json, world_build, world_remove
from tests.dev_server import committed

PREFIX = "loadtest"
ORGANIZATIONS = 10
TASKS_PER_ORG = 300
MEMBERS = 5  # per organization: 50 users, one token each
SECONDS = int(os.environ.get("LOAD_TEST_SECONDS", "30"))
REQUEST_KINDS = {
    "tasks: list",
    "tasks: filtered list",
    "tasks: detail",
    "dashboard",
    "activity: organization",
    "activity: task",
    "tasks: create",
    "tasks: update",
    "tasks: status",
    "tasks: assign",
    "tasks: delete",
    "tasks: restore",
}


@pytest.fixture
def load_world(django_db_blocker):
    """Ten organizations seeded by seed_tasks and committed (the server is another process),
    with five load members each; removed afterwards."""
    with committed(django_db_blocker):
        world_remove(PREFIX)  # whatever an interrupted run left
        world = world_build(
            prefix=PREFIX, organizations=ORGANIZATIONS, tasks_per_org=TASKS_PER_ORG, members=MEMBERS
        )
    yield world
    with committed(django_db_blocker):
        world_remove(PREFIX)


@pytest.mark.load
def test_fifty_users_over_ten_organizations_keep_every_promise(load_world, tmp_path):
    result = run(
        database=libpq_keywords(settings.DATABASES["default"]),
        world=world_as_json(load_world),
        settings=Settings(users=MEMBERS * ORGANIZATIONS, seconds=SECONDS, warmup=10),
        log_dir=tmp_path,
    )
    print(result.table())

    assert result.failures() == [], result.table()
    assert set(result.statuses) == REQUEST_KINDS
    writes = sum(
        sum(counts.values())
        for name, counts in result.statuses.items()
        if name.split(": ")[-1] in {"create", "update", "status", "assign", "delete", "restore"}
    )
    assert 0.1 < writes / result.requests < 0.3
    assert result.checked > result.requests  # every task and entry names its users


def test_the_check_finds_a_user_of_another_organization_anywhere_in_an_answer():
    answer = {
        "results": [
            {"title": "Fix it", "created_by": {"email": "load-0001-0003@seed.example.com"}},
            {"title": "[load-0001] made", "assignees": [{"email": "load-0002-0001@x.example"}]},
        ]
    }

    found = verdict(answer, "load-0001")

    assert found.checked == 3
    assert found.foreign == ["load-0002-0001@x.example"]


def test_the_check_finds_a_task_another_organization_created_under_load():
    found = verdict({"target_label": "[load-0010] load task 3", "actor": None}, "load-0001")

    assert found.foreign == ["[load-0010] load task 3"]


def test_a_slug_that_begins_another_slug_does_not_pass_for_it():
    found = verdict({"user": {"email": "load-00010-0001@seed.example.com"}}, "load-0001")

    assert found.foreign == ["load-00010-0001@seed.example.com"]
