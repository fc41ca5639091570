"""The `make run` server: the public site on localhost and 127.0.0.1, links with its own
port, and a bounded number of database connections however many requests it serves."""

import secrets
import time
from io import StringIO

from saas.devserver import migrate, prepare, server_environment
from shared_apps.accounts.models import User
from tenant_apps.tasks.management.commands.seed_demo import DEMO_PASSWORD, STAFF_EMAIL
from tests.dev_server import committed, server_connections

REQUESTS = 300
# Requests in flight (one here) plus the start-up checks' connection.
MAX_OPEN_CONNECTIONS = 3


def _server_connections(django_db_blocker) -> int:
    with committed(django_db_blocker):
        return server_connections()


def test_a_few_hundred_requests_leave_only_a_few_database_connections_open(
    dev_server, django_db_blocker
):
    # Each request routes by host (a Domain lookup), so each one uses the database; a
    # sequential client is what left 91 connections open before.
    targets = [
        ("localhost", "/healthz"),
        ("localhost", "/"),
        ("acme.localhost", "/api/tasks/"),
        ("nowhere.localhost", "/api/tasks/"),
    ]
    statuses = set()
    for number in range(REQUESTS):
        host, path = targets[number % len(targets)]
        statuses.add(dev_server.request("GET", path, host=host).status)
    assert statuses == {200, 401, 404}

    # A connection closes as its response finishes; give the last one a moment.
    deadline = time.monotonic() + 5
    while (open_connections := _server_connections(django_db_blocker)) > MAX_OPEN_CONNECTIONS:
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    print(f"{REQUESTS} requests -> {open_connections} server connection(s) open")
    assert open_connections <= MAX_OPEN_CONNECTIONS


def test_the_public_site_answers_on_localhost_and_127_0_0_1_with_a_json_index(dev_server):
    for host in ("localhost", "127.0.0.1"):
        response = dev_server.request("GET", "/", host=host)

        assert response.status == 200, (host, response.body)
        index = response.json()
        assert index["docs"] == dev_server.url(host, "/api/docs/")
        assert index["admin"] == dev_server.url(host, "/admin/")
        assert index["health"] == dev_server.url(host, "/healthz")
        # Organization links use the port actually served, not the default 8000.
        assert index["organization_api"] == dev_server.url("{slug}.localhost", "/api/")
        assert dev_server.request("GET", "/healthz", host=host).status == 200


def test_an_organization_host_still_answers_with_its_own_api(dev_server):
    response = dev_server.request("GET", "/api/tasks/", host="acme.localhost")

    assert response.status == 401


def test_the_server_logs_each_warning_once(dev_server):
    path = f"/no-such-page-{secrets.token_hex(4)}/"

    assert dev_server.request("GET", path).status == 404

    deadline = time.monotonic() + 5
    while f"Not Found: {path}" not in dev_server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert dev_server.log().count(f"Not Found: {path}") == 1


# --- What `make run` does before serving (in-process) ----------------------------------------


def test_the_server_environment_names_its_port_and_never_keeps_connections():
    env = server_environment(8600, {"CONN_MAX_AGE": "60", "SITE_PORT": "8000"})

    assert (env["SITE_PORT"], env["CONN_MAX_AGE"], env["DEBUG"]) == ("8600", "0", "true")
    assert server_environment(8600, {"DEBUG": "false"})["DEBUG"] == "false"


def test_re_migrating_prints_one_line_per_schema(db):
    output = StringIO()

    migrate(output)

    assert output.getvalue().splitlines() == [
        "Migrated public: up to date",
        "Migrated org_acme: up to date",
        "Migrated org_globex: up to date",
    ]


def test_without_debug_no_demo_data_is_created_and_the_output_says_so(db, settings):
    settings.DEBUG = False
    output = StringIO()

    prepare(output)

    assert "DEBUG is off: no demo data" in output.getvalue()
    assert not User.objects.filter(email=STAFF_EMAIL).exists()


def test_with_debug_the_demo_data_is_created_and_the_output_says_so(db, settings):
    settings.DEBUG = True
    output = StringIO()

    prepare(output)

    assert "DEBUG is on: demo data" in output.getvalue()
    assert f"Every demo password: {DEMO_PASSWORD}" in output.getvalue()
    assert User.objects.filter(email=STAFF_EMAIL, is_superuser=True).exists()
