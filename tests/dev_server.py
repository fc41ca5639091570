"""The `make run` server (saas/devserver.py) started for tests against the test database."""

import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from saas.devserver import BASE_DIR, server_command, server_environment

HOST = "127.0.0.1"
# Its connections are named, so tests count exactly the server's own.
APPLICATION_NAME = "saas-test-dev-server"
START_TIMEOUT = 30


@contextmanager
def committed(django_db_blocker):
    """Database work outside any test transaction, so the server sees it (and in the public
    schema). Playwright's sync API keeps an idle event loop on this thread, where Django
    refuses queries unless told it is safe: it is, nothing else runs on that loop meanwhile.
    The connection is closed afterwards: under that loop Django hands out a connection of
    its own, which nothing else would close before the test database is dropped."""
    with (
        django_db_blocker.unblock(),
        mock.patch.dict(os.environ, {"DJANGO_ALLOW_ASYNC_UNSAFE": "true"}),
    ):
        connection.set_schema_to_public()
        try:
            yield
        finally:
            connection.close()


def server_connections(application_name: str = APPLICATION_NAME) -> int:
    """How many database connections the server (or another process started with this
    PGAPPNAME) holds open now (call inside `committed`)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s",
            [application_name],
        )
        return cursor.fetchone()[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def database_url(database: dict) -> str:
    """A DATABASE_URL for Django's settings dict `database` (host may be a socket folder)."""
    user = quote(database.get("USER") or "", safe="")
    password = quote(database.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host = database.get("HOST") or ""
    name = quote(database["NAME"], safe="")
    if host.startswith("/"):
        # A Unix socket folder (the embedded server): django-environ reads a percent-encoded
        # first path segment as one, as saas/devdb.py writes it.
        return f"postgres://{credentials}/{quote(host, safe='')}/{name}"
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{name}"


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict = field(default_factory=dict)

    def json(self):
        return json.loads(self.body)


def start_logged(
    command: list[str],
    *,
    env: dict,
    log_path: Path,
    ready: Callable[[], bool],
    what: str,
    timeout: float,
) -> subprocess.Popen:
    """Start `command` in its own process group, its output in `log_path`, and wait until
    `ready()`; a process that exits or is not ready in `timeout` seconds is stopped, and the
    error shows its log."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The {what} exited at start-up:\n{_read(log_path)}")
        if ready():
            return process
        time.sleep(0.2)
    stop_process(process, grace=10)
    raise RuntimeError(f"The {what} was not ready in {timeout} s:\n{_read(log_path)}")


def stop_process(process: subprocess.Popen | None, *, grace: float) -> None:
    """TERM (a graceful shutdown), then after `grace` seconds KILL the whole group."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _read(log_path: Path) -> str:
    return log_path.read_text(errors="replace")


@dataclass
class DevServer:
    """A running server: its port, the folder emails are written to, and its output."""

    port: int
    mail_dir: Path
    log_path: Path
    process: subprocess.Popen | None = None

    def url(self, host: str = "localhost", path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        host: str = "localhost",
        body: dict | None = None,
        token: str | None = None,
    ) -> Response:
        """One HTTP request to the server with `host` as Host header (no DNS involved)."""
        headers = {"Host": f"{host}:{self.port}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
        try:
            connection.request(method, path, body=data, headers=headers)
            answer = connection.getresponse()
            return Response(answer.status, answer.read(), dict(answer.getheaders()))
        finally:
            connection.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def start(self, database: dict) -> None:
        env = server_environment(self.port)
        env.update(
            DATABASE_URL=database_url(database),
            EMAIL_URL=f"filemail://{self.mail_dir}",  # mail_dir is absolute: filemail:///tmp/…
            PGAPPNAME=APPLICATION_NAME,
        )
        # Its tests send hundreds of requests from 127.0.0.1: rate limits out of their reach
        # (tests/saas/api/test_throttling.py tests those).
        env.update(
            {
                f"THROTTLE_{scope.upper()}": "100000/min"
                for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
            }
        )
        # No autoreload (the only difference from `make run`): an edit elsewhere in the tree
        # must not restart the server under a running test, and the file watcher costs CPU.
        command = server_command(HOST, self.port, reload=False)

        def answers() -> bool:
            try:
                return self.request("GET", "/healthz").status == 200
            except OSError:
                return False

        self.process = start_logged(
            command,
            env=env,
            log_path=self.log_path,
            ready=answers,
            what="server",
            timeout=START_TIMEOUT,
        )

    def stop(self) -> None:
        stop_process(self.process, grace=10)
