"""What the image runs, run here: the Dockerfile's collectstatic step, then its CMD (gunicorn
with saas/gunicorn_conf.py) with the Dockerfile's ENV, against the test database on a free
loopback port; the Dockerfile's HEALTHCHECK command probes it. Only what compose adds at run
time (SECRET_KEY, DATABASE_URL, REDIS_URL, BASE_DOMAIN) and the loopback address differ."""

import http.client
import os
import re
import runpy
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import CACHE_KEY_PREFIX
from tests.dev_server import (
    Response,
    committed,
    database_url,
    free_port,
    start_logged,
    stop_process,
)

from .dockerfile import ROOT, Dockerfile, Instruction, Stage, exec_form, healthcheck

HOST = "127.0.0.1"
# The server's database connections carry this name, so the test can wait for them to close.
APPLICATION_NAME = "saas-test-gunicorn"
START_TIMEOUT = 60
# Where `make` installs gunicorn and python: first on PATH, as /usr/local/bin is in the image.
BIN = Path(sys.executable).parent


def image_environment(stage: Stage, home: Path, before: Instruction | None = None) -> dict:
    """The environment of a process in the image: the base image's essentials (with this
    project's interpreter first on PATH) plus the stage's ENV up to `before`."""
    env = {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(home)}
    env.update(stage.environment(before))
    return env


def shell_command(run: Instruction) -> str:
    """A RUN instruction's shell command, without its flags (`--mount=...`)."""
    return re.sub(r"^(--\S+\s+)*", "", run.arguments)


def request(port: int, path: str, *, host: str = "localhost", headers=None) -> Response:
    """One HTTP request to 127.0.0.1:`port` with `host` as Host header."""
    client = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        client.request("GET", path, headers={"Host": f"{host}:{port}", **(headers or {})})
        answer = client.getresponse()
        return Response(answer.status, answer.read(), dict(answer.getheaders()))
    finally:
        client.close()


@dataclass
class ProductionServer:
    port: int
    process: subprocess.Popen | None
    log_path: Path
    env: dict

    def request(self, path: str, **kwargs) -> Response:
        return request(self.port, path, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    """The project's Dockerfile, parsed."""
    return Dockerfile.read()


@pytest.fixture(scope="module")
def collected_static(dockerfile, tmp_path_factory) -> Path:
    """The Dockerfile's collectstatic step, run as written (no database reachable), into a
    folder of its own instead of the image's."""
    folder = tmp_path_factory.mktemp("static")
    final = dockerfile.final
    run = next(i for i in final.all("RUN") if "collectstatic" in i.arguments)
    env = image_environment(final, home=folder, before=run)
    env["STATIC_ROOT"] = str(folder)

    result = subprocess.run(
        ["/bin/sh", "-c", shell_command(run)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    return folder


def _server_connections(django_db_blocker) -> int:
    with committed(django_db_blocker), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s",
            [APPLICATION_NAME],
        )
        return cursor.fetchone()[0]


@pytest.fixture(scope="module")
def production_server(
    dockerfile, collected_static, django_db_setup, django_db_blocker, tmp_path_factory
):
    """gunicorn as the image starts it, against the test database; stopped afterwards."""
    folder = tmp_path_factory.mktemp("gunicorn")
    port = free_port()
    final = dockerfile.final
    env = image_environment(final, home=folder)  # HOME: gunicorn's control socket goes there
    env.update(
        # What compose passes at run time.
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=database_url(settings.DATABASES["default"]),
        BASE_DOMAIN="localhost",
        # The collected files, where the image has them in STATIC_ROOT's default.
        STATIC_ROOT=str(collected_static),
        PORT=str(port),
        # gunicorn's own override of its configured bind: loopback only, never 0.0.0.0 here.
        GUNICORN_CMD_ARGS=f"--bind {HOST}:{port}",
        PGAPPNAME=APPLICATION_NAME,
    )
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
        # Its own cache keys (rate-limit counters included), removed with this run's.
        env["CACHE_KEY_PREFIX"] = f"{CACHE_KEY_PREFIX}-production-server"
    log_path = folder / "server.log"
    server = ProductionServer(port=port, process=None, log_path=log_path, env=env)

    def answers() -> bool:
        try:
            return server.request("/healthz").status == 200
        except OSError:
            return False

    # The image's WORKDIR holds the same files as the checkout (start_logged runs there).
    server.process = start_logged(
        exec_form(final.last("CMD").arguments),
        env=env,
        log_path=log_path,
        ready=answers,
        what="gunicorn",
        timeout=START_TIMEOUT,
    )
    try:
        yield server
    finally:
        # SIGTERM, as `docker stop` sends: a graceful shutdown.
        stop_process(server.process, grace=30)
        # The test database can be dropped only once the server's connections are gone.
        deadline = time.monotonic() + 10
        while _server_connections(django_db_blocker) and time.monotonic() < deadline:
            time.sleep(0.1)


def test_healthz_answers_200_on_any_host_name_or_address(production_server):
    for host in ("localhost", "acme.localhost", "10.1.2.3"):  # a probe addresses the container
        response = production_server.request("/healthz", host=host)

        assert response.status == 200, (host, response.body)
        assert response.json() == {"status": "ok", "database": "ok"}


def test_the_image_s_healthcheck_command_passes_and_fails_when_nothing_answers(
    dockerfile, production_server
):
    _, command = healthcheck(dockerfile.final.last("HEALTHCHECK"))
    env = image_environment(dockerfile.final, home=production_server.log_path.parent)

    healthy = subprocess.run(
        command, env={**env, "PORT": str(production_server.port)}, capture_output=True
    )
    unhealthy = subprocess.run(command, env={**env, "PORT": str(free_port())}, capture_output=True)

    assert healthy.returncode == 0, healthy.stderr
    assert unhealthy.returncode != 0


def test_the_server_works_on_the_test_database_with_persistent_connections(
    production_server, django_db_blocker
):
    assert production_server.request("/api/tasks/", host="acme.localhost").status == 401

    # CONN_MAX_AGE keeps the connection open after the response, in the test database.
    assert _server_connections(django_db_blocker) >= 1


def test_an_unknown_organization_host_gets_a_json_404(production_server):
    response = production_server.request("/api/tasks/", host="nowhere.localhost")

    assert response.status == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"detail": "No organization is served at this address."}


def test_an_organization_host_serves_its_own_api(production_server):
    response = production_server.request("/api/tasks/", host="acme.localhost")

    assert response.status == 401  # routed to acme's API, which wants a token
    assert response.headers["Content-Type"] == "application/json"


def test_debug_is_off_so_an_unknown_page_is_a_json_404_not_django_s_debug_page(
    production_server,
):
    response = production_server.request(f"/no-such-page-{secrets.token_hex(4)}/")

    assert response.status == 404
    assert response.json() == {"detail": "Not found."}


def test_static_files_are_served_compressed_from_the_collected_copies(production_server):
    response = production_server.request(
        "/static/admin/css/base.css", headers={"Accept-Encoding": "gzip"}
    )

    assert response.status == 200
    # Only collectstatic writes the .gz copies: served from the image's folder, not the apps'.
    assert response.headers.get("Content-Encoding") == "gzip"
    assert "max-age" in response.headers["Cache-Control"]


def test_gunicorn_serves_with_threads_on_the_address_it_was_given(production_server):
    log = production_server.log()

    assert f"Listening at: http://{HOST}:{production_server.port}" in log
    assert "Using worker: gthread" in log


# --- saas/gunicorn_conf.py: every knob from the environment ----------------------------------

CONFIG = ROOT / "saas" / "gunicorn_conf.py"
KNOBS = ("WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_TIMEOUT", "GUNICORN_MAX_REQUESTS", "PORT")


def test_gunicorn_defaults_suit_a_small_container(monkeypatch):
    for name in KNOBS:
        monkeypatch.delenv(name, raising=False)

    config = runpy.run_path(str(CONFIG))

    assert config["bind"] == ["0.0.0.0:8000"]
    assert (config["workers"], config["threads"], config["timeout"]) == (2, 4, 30)
    assert config["worker_class"] == "gthread"
    assert config["accesslog"] == config["errorlog"] == "-"


def test_gunicorn_workers_threads_timeout_and_port_come_from_the_environment(monkeypatch):
    for name, value in zip(KNOBS, ("5", "8", "60", "0", "9000"), strict=True):
        monkeypatch.setenv(name, value)

    config = runpy.run_path(str(CONFIG))

    assert (config["workers"], config["threads"], config["timeout"]) == (5, 8, 60)
    assert (config["max_requests"], config["max_requests_jitter"]) == (0, 0)
    assert config["bind"] == ["0.0.0.0:9000"]
