"""Connection pooling without cross-tenant leaks: a real PgBouncer in transaction mode with
2 server connections, in front of this run's test database; gunicorn behind it; 20
concurrent clients, each hammering a different organization, every answer checked against
its own organization's marker rows.

With DATABASE_POOL_MODE=transaction (the backend in saas/db/base.py): 0 mismatches. With
django-tenants' stock backend behind the same pooler (DATABASE_POOL_MODE=session, the wrong
setting for it), answers come from other organizations and writes land in them: the leak
the backend closes, shown here so that the 0 means something.

Requests per client: FAULTS_POOL_REQUESTS (50 in the normal suite, `make faults` sends
1,000).
"""

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.dev_server import committed

from .load import Answer, Clients
from .servers import Gunicorn, PgBouncer, remove_folder, service_folder
from .tenants import Tenant, make_tenants, remove_tenants

PREFIX = "pool"
ORGANIZATIONS = 20
POOL_SIZE = 2
REQUESTS_EACH = int(os.environ.get("FAULTS_POOL_REQUESTS", "50"))
# Requests per client of the demonstration with the stock backend: enough to see leaks.
LEAK_REQUESTS_EACH = 10
MARKER_OF = re.compile(r"marker (pool-\d+)")


@pytest.fixture(scope="module")
def pgbouncer(django_db_setup):
    """PgBouncer, pool_mode=transaction, default_pool_size=2, in front of the test database
    (skips, saying why, when the pgbouncer binary is not installed)."""
    database = settings.DATABASES["default"]
    host = database.get("HOST") or "127.0.0.1"
    if host.startswith("/") and os.geteuid() == 0 and Path(host).stat().st_mode & 0o005 == 0:
        # The embedded server (make test without DATABASE_URL) keeps its socket in a folder
        # private to its own user, which PgBouncer (run as postgres under root) cannot enter;
        # CI runs this test against the machine's PostgreSQL over TCP.
        pytest.skip(f"PgBouncer cannot reach the socket folder {host} (private to its owner)")
    folder = service_folder("faults-pgbouncer-")
    bouncer = PgBouncer(
        folder=folder,
        server_host=host,
        server_port=int(database.get("PORT") or 5432),
        database=database["NAME"],
        pool_mode="transaction",
        pool_size=POOL_SIZE,
    )
    try:
        bouncer.start()
        yield bouncer
    finally:
        bouncer.stop()
        remove_folder(folder)


@pytest.fixture(scope="module")
def tenants(pgbouncer, django_db_blocker):
    """20 organizations committed in this run's test database, each with its own ADMIN, one
    project and tasks named after it; removed (schemas dropped) afterwards."""
    with committed(django_db_blocker):
        remove_tenants(PREFIX)
        try:
            yield make_tenants(PREFIX, ORGANIZATIONS)
        finally:
            connection.set_schema_to_public()
            remove_tenants(PREFIX)


def serve(pgbouncer, tmp_path_factory, pool_mode_setting: str) -> Gunicorn:
    server = Gunicorn(
        folder=tmp_path_factory.mktemp(f"gunicorn-{pool_mode_setting}"),
        env={
            "DATABASE_URL": pgbouncer.url,
            "DATABASE_POOL_MODE": pool_mode_setting,
            "REDIS_URL": "",
            "SCHEMA_POOL_SIZE": "0",
        },
        workers=2,
        threads=4,
    )
    server.start()
    return server


@dataclass
class Checked:
    """What the answers of one run showed."""

    answers: list[Answer]
    mismatches: list[str] = field(default_factory=list)
    foreign: int = 0  # answers holding another organization's rows
    errors: int = 0  # answers that were not the expected success


def hammer(server: Gunicorn, tenants: list[Tenant], requests_each: int) -> Checked:
    """Each client works in one organization: lists its projects and tasks, reads its
    project, and every 10th request creates a task there; every answer is checked."""

    def next_request(client: int, sent: int):
        tenant = tenants[client]
        kind = sent % 10
        if kind == 9:
            body = {"project": tenant.project_id, "title": f"{tenant.marker} write {sent}"}
            return "POST", "/api/tasks/", tenant.host, tenant.token, body
        path = ("/api/projects/", "/api/tasks/", f"/api/projects/{tenant.project_id}/")[kind % 3]
        return "GET", path, tenant.host, tenant.token, None

    clients = Clients(server.port, len(tenants), next_request, requests_each=requests_each)
    clients.start().join()
    checked = Checked(clients.answers)
    for answer in clients.answers:
        tenant = tenants[answer.client]
        problem = _check(answer, tenant)
        if problem:
            checked.mismatches.append(f"{tenant.slug} {answer.method} {answer.path}: {problem}")
            if problem.startswith("rows of"):
                checked.foreign += 1
            else:
                checked.errors += 1
    return checked


def _check(answer: Answer, tenant: Tenant) -> str:
    """'' if `answer` is exactly what `tenant`'s own data gives, else what is wrong."""
    expected = 201 if answer.method == "POST" else 200
    if answer.status != expected:
        return f"status {answer.status} {answer.error} {answer.body[:200]!r}"
    body = json.loads(answer.body)
    others = set(MARKER_OF.findall(answer.body.decode())) - {tenant.slug}
    if others:
        return f"rows of {sorted(others)}"
    if answer.method == "POST":
        if body["project"] != tenant.project_id or body["title"] != answer.body_sent["title"]:
            return f"created {body}"
        return ""
    if answer.path == "/api/projects/":
        names = [project["name"] for project in body["results"]]
        return "" if names == [tenant.marker] else f"projects {names}"
    if answer.path == "/api/tasks/":
        titles = [task["title"] for task in body["results"]]
        mine = all(title.startswith(tenant.marker + " ") for title in titles)
        return "" if titles and mine else f"tasks {titles}"
    return "" if body["name"] == tenant.marker else f"project {body['name']}"


def stored_writes(tenants: list[Tenant]) -> dict[str, list[str]]:
    """Per organization, the titles of the tasks the clients created there."""
    found = {}
    with connection.cursor() as cursor:
        for tenant in tenants:
            cursor.execute(
                f'SELECT title FROM "{tenant.schema_name}".tasks_task WHERE title LIKE %s',
                ["% write %"],
            )
            found[tenant.slug] = sorted(row[0] for row in cursor.fetchall())
    return found


def test_transaction_pooling_with_the_pinned_backend_never_mixes_organizations(
    tenants, pgbouncer, tmp_path_factory, django_db_blocker
):
    server = serve(pgbouncer, tmp_path_factory, "transaction")
    try:
        checked = hammer(server, tenants, REQUESTS_EACH)
        servers = pgbouncer.server_connections()
    finally:
        server.stop()

    total = len(checked.answers)
    seconds = max(a.ended for a in checked.answers) - min(a.started for a in checked.answers)
    print(
        f"PgBouncer transaction mode, pool {POOL_SIZE}: {total} requests from "
        f"{len(tenants)} clients in {seconds:.1f} s ({total / seconds:.0f} req/s), "
        f"{len(checked.mismatches)} mismatches"
    )
    assert total == len(tenants) * REQUESTS_EACH
    assert checked.mismatches == []
    assert servers <= POOL_SIZE
    # Every write is stored in its own organization, once.
    with committed(django_db_blocker):
        stored = stored_writes(tenants)
    for tenant in tenants:
        answered = sorted(
            a.body_sent["title"]
            for a in checked.answers
            if a.client == tenants.index(tenant) and a.method == "POST"
        )
        assert stored[tenant.slug] == answered, tenant.slug
    assert "Traceback" not in server.log()


def test_the_stock_backend_behind_the_same_pooler_leaks_between_organizations(
    tenants, pgbouncer, tmp_path_factory, django_db_blocker
):
    """Why the pinned backend exists: django-tenants' session-level `SET search_path` goes to
    one server connection and the next statement to another, set by another client."""
    server = serve(pgbouncer, tmp_path_factory, "session")
    try:
        checked = hammer(server, tenants, LEAK_REQUESTS_EACH)
    finally:
        server.stop()
    with committed(django_db_blocker):
        stored = stored_writes(tenants)
    misplaced = sum(
        not title.startswith(f"marker {slug} ")
        for slug, titles in stored.items()
        for title in titles
    )
    print(
        f"Stock backend behind PgBouncer transaction mode: {len(checked.answers)} requests, "
        f"{checked.foreign} answers with another organization's rows, {checked.errors} errors, "
        f"{misplaced} tasks written into another organization"
    )
    assert checked.foreign > 0
