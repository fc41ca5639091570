"""PostgreSQL restarted under a run of requests: gunicorn (DEBUG off, persistent connections
with health checks) against a PostgreSQL cluster of the test's own, which the test stops
and starts again while clients keep reading and writing.

Errors only while it is down, each a 503 JSON answer with Retry-After (never a 500, HTML or
a traceback); every request after it is back succeeds (no stale pooled connection); every
write answered 201 is there once, in its organization, and nothing was stored that was not
answered 201 or 503 (a 503 can come after the commit, while the answer is read back).
"""

import json
import os
import subprocess
import sys
import time

import psycopg2
import pytest

from saas.api.messages import DATABASE_UNAVAILABLE

from .load import Clients
from .servers import BASE_DIR, Gunicorn, PostgresCluster, remove_folder, service_folder
from .tenants import Tenant

CLIENTS = 4
DOWN_SECONDS = 3
# A request's answer may be in flight when the stop begins or the start returns.
EDGE = 0.5


@pytest.fixture(scope="module")
def cluster():
    """A PostgreSQL cluster of the test's own, migrated, with two organizations."""
    folder = service_folder("faults-pg-")
    postgres = PostgresCluster(folder)
    try:
        postgres.init()
        postgres.start()
        postgres.execute("CREATE DATABASE app")
        env = dict(os.environ, DATABASE_URL=postgres.url("app"), REDIS_URL="")
        env["SCHEMA_POOL_SIZE"] = "0"
        seeded = subprocess.run(
            [sys.executable, "-m", "tests.faults.tenants", "pgr", "2", "--migrate"],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert seeded.returncode == 0, seeded.stderr
        postgres.tenants = [Tenant(**fields) for fields in json.loads(seeded.stdout)]
        yield postgres
    finally:
        postgres.stop_if_running()
        remove_folder(folder)


@pytest.fixture(scope="module")
def server(cluster, tmp_path_factory):
    """gunicorn against the cluster, as in production: DEBUG off, CONN_MAX_AGE 60 with
    health checks, no Redis (a per-process cache, jobs run in the request)."""
    gunicorn = Gunicorn(
        folder=tmp_path_factory.mktemp("gunicorn-pg"),
        env={"DATABASE_URL": cluster.url("app"), "REDIS_URL": "", "SCHEMA_POOL_SIZE": "0"},
        workers=2,
        threads=2,
    )
    gunicorn.start()
    yield gunicorn
    gunicorn.stop()


def test_a_restart_gives_503s_only_while_down_and_everything_after_succeeds(cluster, server):
    tenants = cluster.tenants

    def next_request(client: int, sent: int):
        tenant = tenants[client % len(tenants)]
        kind = sent % 4
        if kind == 0:
            return "GET", "/api/projects/", tenant.host, tenant.token, None
        if kind == 1:
            return "GET", "/api/tasks/", tenant.host, tenant.token, None
        if kind == 2:
            body = {"project": tenant.project_id, "title": f"write {client}-{sent}"}
            return "POST", "/api/tasks/", tenant.host, tenant.token, body
        return "GET", "/api/auth/me/", "localhost", tenant.token, None

    clients = Clients(server.port, CLIENTS, next_request).start()
    try:
        time.sleep(2)
        stopping = time.monotonic()
        cluster.stop("fast")
        time.sleep(DOWN_SECONDS)
        cluster.start()
        started = time.monotonic()
        time.sleep(3)
    finally:
        clients.stop()

    answers = clients.answers
    before = [a for a in answers if a.ended < stopping]
    during = [a for a in answers if a.ended >= stopping and a.started <= started + EDGE]
    after = [a for a in answers if a.started > started + EDGE]
    summary = {
        "before": len(before),
        "during": len(during),
        "after": len(after),
        "503 during": sum(a.status == 503 for a in during),
    }
    print("PostgreSQL restart:", summary)

    assert before and after and summary["503 during"], summary
    # Before and after: every answer a success.
    for answer in before + after:
        assert answer.status in (200, 201), (answer, server.log()[-3000:])
    # While it was down: successes (requests it answered in time) or the 503, nothing else.
    for answer in during:
        assert answer.status in (200, 201, 503), (answer, server.log()[-3000:])
        assert answer.headers.get("Content-Type") == "application/json", answer
        if answer.status == 503:
            assert json.loads(answer.body) == {"detail": DATABASE_UNAVAILABLE}
            assert answer.headers.get("Retry-After") == "5"
    assert "Traceback" not in server.log()
    assert "Database unavailable" in server.log()

    # Writes, each in its own organization: every 201 is stored, once. A 503 may come after
    # the commit (the answer re-reads the task it created), so such a write may be stored;
    # nothing else is.
    written = {a.body_sent["title"]: a for a in answers if a.method == "POST"}
    connection = psycopg2.connect(cluster.url("app"))
    try:
        with connection.cursor() as cursor:
            for tenant in tenants:
                cursor.execute(
                    f'SELECT title FROM "{tenant.schema_name}".tasks_task WHERE title LIKE %s',
                    ["write %"],
                )
                titles = [row[0] for row in cursor.fetchall()]
                answered = {
                    title: answer.status
                    for title, answer in written.items()
                    if answer.host == tenant.host
                }
                assert len(titles) == len(set(titles))
                created = {title for title, status in answered.items() if status == 201}
                assert created <= set(titles), (tenant.slug, created - set(titles))
                assert {answered.get(title) for title in titles} <= {201, 503}, tenant.slug
    finally:
        connection.close()
