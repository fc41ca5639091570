"""One load run: gunicorn (saas/gunicorn_conf.py) on loopback against a given database, locust
headless against it (bench/load/locustfile.py), and meanwhile samples of the server's
PostgreSQL connections (pg_stat_activity) and of its workers' memory (/proc). Returns the
figures and which of the run's promises held."""

import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent.parent
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
# The server's connections carry this name (libpq reads PGAPPNAME), so the samples count
# them and nothing else on the database.
SERVER_APPLICATION_NAME = "saas-load-web"
# Connections above workers x threads that still count as bounded: one a thread may open
# while the connection it is replacing (CONN_HEALTH_CHECKS, CONN_MAX_AGE) closes.
CONNECTION_MARGIN = 2
MEMORY_GROWTH_LIMIT = 0.10
START_TIMEOUT = 60
SAMPLE_SECONDS = 0.5


@dataclass
class Settings:
    """The run's shape: locust users, length, the server's processes and threads."""

    users: int = 50
    seconds: int = 300
    spawn_rate: float = 10
    workers: int = 2
    threads: int = 4
    # Seconds after the last user started before the memory baseline is taken.
    warmup: float = 10
    wait_min: float = 0.5
    wait_max: float = 1.5


@dataclass
class Result:
    settings: Settings
    organizations: int
    seconds: float = 0
    requests: int = 0
    statuses: dict = field(default_factory=dict)  # name -> {status: count}
    times_ms: dict = field(default_factory=dict)  # name -> sorted list
    checked: int = 0
    foreign: list = field(default_factory=list)
    foreign_count: int = 0
    connections_max: int = 0
    connections_samples: int = 0
    rss_start_kb: dict = field(default_factory=dict)  # worker pid -> kB after warm-up
    rss_end_kb: dict = field(default_factory=dict)
    workers_replaced: bool = False
    load_before: tuple = ()
    load_after: tuple = ()
    errors: list = field(default_factory=list)  # what kept the run from measuring

    # --- figures ------------------------------------------------------------------------

    def count(self, predicate) -> int:
        return sum(
            n for counts in self.statuses.values() for s, n in counts.items() if predicate(int(s))
        )

    @property
    def server_errors(self) -> int:
        return self.count(lambda status: status >= 500 or status == 0)

    @property
    def refused(self) -> int:
        return self.count(lambda status: status == 429)

    @property
    def unexpected_client_errors(self) -> int:
        # 404: a task another user of the same organization deleted meanwhile.
        return self.count(lambda status: 400 <= status < 500 and status not in (404, 429))

    @property
    def connection_bound(self) -> int:
        return self.settings.workers * self.settings.threads + CONNECTION_MARGIN

    @property
    def memory_growth(self) -> float:
        """The largest relative RSS growth of a worker from warm-up to the end."""
        growths = [
            (self.rss_end_kb[pid] - start) / start
            for pid, start in self.rss_start_kb.items()
            if pid in self.rss_end_kb and start
        ]
        return max(growths) if growths else math.nan

    def percentile(self, name: str | None, fraction: float) -> float:
        times = (
            sorted(t for values in self.times_ms.values() for t in values)
            if name is None
            else self.times_ms.get(name, [])
        )
        if not times:
            return math.nan
        return times[min(len(times) - 1, math.ceil(fraction * len(times)) - 1)]

    def failures(self) -> list[str]:
        """The promises the run broke (empty: all held)."""
        failed = list(self.errors)
        if self.requests == 0:
            failed.append("no request was answered")
        if self.server_errors:
            failed.append(f"{self.server_errors} answers 5xx or no answer")
        if self.foreign_count:
            failed.append(f"{self.foreign_count} users or titles of another organization")
        if self.refused:
            failed.append(f"{self.refused} requests refused by the rate limits (429)")
        if self.unexpected_client_errors:
            failed.append(f"{self.unexpected_client_errors} unexpected 4xx answers")
        if self.connections_max > self.connection_bound:
            failed.append(f"{self.connections_max} database connections > {self.connection_bound}")
        if self.workers_replaced:
            failed.append("a worker was replaced during the run (crash or timeout)")
        if not self.memory_growth < MEMORY_GROWTH_LIMIT:
            failed.append(f"worker memory grew {self.memory_growth:.1%} (limit 10%)")
        return failed

    def table(self) -> str:
        """The summary: per request kind, then the run's promises."""
        lines = [
            f"{'request':<24} {'count':>7} {'2xx':>6} {'404':>5} {'other 4xx':>9} "
            f"{'5xx':>4} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
        ]
        names = sorted(self.statuses)
        for name in [*names, None]:
            counts = (
                self.statuses[name]
                if name
                else {
                    s: sum(c.get(s, 0) for c in self.statuses.values())
                    for s in {s for c in self.statuses.values() for s in c}
                }
            )
            total = sum(counts.values())
            ok = sum(n for s, n in counts.items() if 200 <= int(s) < 300)
            gone = counts.get("404", 0)
            other = sum(n for s, n in counts.items() if 400 <= int(s) < 500 and s != "404")
            bad = sum(n for s, n in counts.items() if int(s) >= 500 or int(s) == 0)
            lines.append(
                f"{name or 'all':<24} {total:>7} {ok:>6} {gone:>5} {other:>9} {bad:>4} "
                f"{self.percentile(name, 0.50):>7.0f} {self.percentile(name, 0.95):>7.0f} "
                f"{self.percentile(name, 0.99):>7.0f}"
            )
        reads = sum(
            n
            for name, counts in self.statuses.items()
            if not name.startswith("tasks: ")
            or name in ("tasks: list", "tasks: filtered list", "tasks: detail")
            for n in counts.values()
        )
        growth = self.memory_growth
        rss = ", ".join(
            f"{self.rss_start_kb[pid] / 1024:.0f}->{self.rss_end_kb.get(pid, 0) / 1024:.0f} MB"
            for pid in sorted(self.rss_start_kb)
        )
        lines += [
            "",
            f"{self.settings.users} users over {self.organizations} organizations, "
            f"{self.seconds:.0f} s: {self.requests} requests, "
            f"{self.requests / max(self.seconds, 1):.1f}/s, reads "
            f"{reads / max(self.requests, 1):.0%}",
            f"5xx or no answer: {self.server_errors}; refused (429): {self.refused}; "
            f"unexpected 4xx: {self.unexpected_client_errors}",
            f"cross-organization answers: {self.foreign_count} "
            f"({self.checked} users and titles checked)",
            f"database connections: max {self.connections_max} "
            f"(bound {self.connection_bound} = {self.settings.workers} workers x "
            f"{self.settings.threads} threads + {CONNECTION_MARGIN}; "
            f"{self.connections_samples} samples)",
            f"worker memory after warm-up -> end: {rss} (growth {growth:.1%}, limit 10%)",
            f"machine: {os.cpu_count()} cores, load average "
            f"{' '.join(f'{x:.1f}' for x in self.load_before)} before, "
            f"{' '.join(f'{x:.1f}' for x in self.load_after)} after",
        ]
        return "\n".join(lines)

    def as_json(self) -> dict:
        return {
            "settings": vars(self.settings),
            "organizations": self.organizations,
            "seconds": round(self.seconds, 1),
            "requests": self.requests,
            "per_second": round(self.requests / max(self.seconds, 1), 1),
            "statuses": self.statuses,
            "p50_ms": self.percentile(None, 0.50),
            "p95_ms": self.percentile(None, 0.95),
            "p99_ms": self.percentile(None, 0.99),
            "per_request": {
                name: {
                    "count": len(self.times_ms.get(name, [])),
                    "p50_ms": self.percentile(name, 0.50),
                    "p95_ms": self.percentile(name, 0.95),
                    "p99_ms": self.percentile(name, 0.99),
                }
                for name in sorted(self.statuses)
            },
            "server_errors": self.server_errors,
            "refused": self.refused,
            "cross_organization": self.foreign_count,
            "checked": self.checked,
            "connections_max": self.connections_max,
            "connection_bound": self.connection_bound,
            "rss_start_kb": self.rss_start_kb,
            "rss_end_kb": self.rss_end_kb,
            "memory_growth": None if math.isnan(self.memory_growth) else self.memory_growth,
            "load_average_before": self.load_before,
            "load_average_after": self.load_after,
            "cores": os.cpu_count(),
            "failures": self.failures(),
        }


def run(
    *, database: dict, world: list[dict], settings: Settings, log_dir: Path | None = None
) -> Result:
    """Serve `database` (libpq keywords: dbname, user, host, port, password) with gunicorn and
    load it with locust over the organizations of `world` (bench.load.world)."""
    result = Result(settings=settings, organizations=len(world))
    folder = Path(log_dir or tempfile.mkdtemp(prefix="saas-load-"))
    folder.mkdir(parents=True, exist_ok=True)
    plan, report = folder / "plan.json", folder / "report.json"
    plan.write_text(json.dumps(world))
    port = _free_port()
    server = _start_server(database, settings, port, folder / "server.log")
    monitor = _Monitor(database, server.pid)
    try:
        _wait_until_up(port, server)
        monitor.start()
        result.load_before = os.getloadavg()
        ramp = settings.users / settings.spawn_rate
        warmed = threading.Timer(ramp + settings.warmup, monitor.take_baseline)
        warmed.start()
        started = time.monotonic()
        _locust(port, settings, plan, report, folder / "locust.log")
        result.seconds = time.monotonic() - started
        warmed.cancel()
        monitor.take_end()
        result.load_after = os.getloadavg()
    finally:
        monitor.stop()
        _stop(server)
    if not report.is_file():
        result.errors.append(f"locust wrote no report: see {folder / 'locust.log'}")
        return result
    figures = json.loads(report.read_text())
    result.statuses = figures["statuses"]
    result.times_ms = {name: sorted(times) for name, times in figures["times_ms"].items()}
    result.requests = sum(n for counts in result.statuses.values() for n in counts.values())
    result.checked = sum(figures["checked"].values())
    result.foreign = figures["foreign"]
    result.foreign_count = figures["foreign_count"]
    result.connections_max = monitor.connections_max
    result.connections_samples = monitor.connections_samples
    result.rss_start_kb = monitor.rss_start
    result.rss_end_kb = monitor.rss_end
    result.workers_replaced = monitor.workers_replaced
    if not result.rss_start_kb:
        result.errors.append("the run ended before the warm-up did: no memory baseline")
    return result


# --- the server -------------------------------------------------------------------------


def _server_environment(database: dict, settings: Settings, port: int) -> dict:
    environment = dict(os.environ)
    environment.update(
        {
            "DATABASE_URL": database_url(database),
            "PGAPPNAME": SERVER_APPLICATION_NAME,
            # Production behaviour: no debug (which would also keep every query in memory).
            "DEBUG": "false",
            "SECRET_KEY": environment.get("SECRET_KEY") or secrets.token_urlsafe(50),
            "WEB_CONCURRENCY": str(settings.workers),
            "GUNICORN_THREADS": str(settings.threads),
            # No recycling after N requests: a replaced worker would hide its memory growth.
            "GUNICORN_MAX_REQUESTS": "0",
            "LOG_LEVEL": "WARNING",
            # Cache and rate-limit keys of this run's own, in whatever Redis REDIS_URL names.
            "CACHE_KEY_PREFIX": f"load-{os.getpid()}",
            "CELERY_QUEUE": f"load-{os.getpid()}",
            "PORT": str(port),
        }
    )
    # The rate limits stay on, at the production defaults unless THROTTLE_* in the
    # environment says otherwise (docs: a heavier profile raises them there).
    return environment


def _start_server(database: dict, settings: Settings, port: int, log: Path):
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(ROOT / "saas" / "gunicorn_conf.py"),
        # Loopback only (the configuration's bind is every interface, for containers).
        "--bind",
        f"127.0.0.1:{port}",
        "saas.wsgi:application",
    ]
    output = log.open("w")
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=_server_environment(database, settings, port),
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_until_up(port: int, server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode} before answering")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer /healthz within {START_TIMEOUT} s")


def _stop(server) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _locust(port: int, settings: Settings, plan: Path, report: Path, log: Path) -> None:
    environment = dict(os.environ)
    environment.update(
        {
            "LOAD_PLAN": str(plan),
            "LOAD_REPORT": str(report),
            "LOAD_WAIT_MIN": str(settings.wait_min),
            "LOAD_WAIT_MAX": str(settings.wait_max),
            "PYTHONPATH": str(ROOT),
        }
    )
    command = [
        str(Path(sys.executable).with_name("locust")),
        "--locustfile",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        f"http://127.0.0.1:{port}",
        "--users",
        str(settings.users),
        "--spawn-rate",
        str(settings.spawn_rate),
        "--run-time",
        f"{settings.seconds}s",
        "--stop-timeout",
        "10",
        "--only-summary",
        "--loglevel",
        "WARNING",
        # Failures are judged from the report, not locust's exit code.
        "--exit-code-on-error",
        "0",
    ]
    with log.open("w") as output:
        subprocess.run(
            command,
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=settings.seconds + 120,
        )


# --- sampling -----------------------------------------------------------------------------


class _Monitor:
    """Samples, every SAMPLE_SECONDS, how many connections the server holds on the database,
    and the resident memory of each gunicorn worker (the master's children)."""

    def __init__(self, database: dict, master_pid: int):
        self.database = database
        self.master_pid = master_pid
        self.connections_max = 0
        self.connections_samples = 0
        self.rss_start: dict[int, int] = {}
        self.rss_end: dict[int, int] = {}
        self.workers_replaced = False
        self._workers: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._workers = set(_children(self.master_pid))
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def take_baseline(self) -> None:
        self.rss_start = _rss_of(_children(self.master_pid))

    def take_end(self) -> None:
        self.rss_end = _rss_of(_children(self.master_pid))

    def _loop(self) -> None:
        connection = psycopg2.connect(**self.database, application_name="saas-load-monitor")
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                while not self._stop.wait(SAMPLE_SECONDS):
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND application_name = %s",
                        [SERVER_APPLICATION_NAME],
                    )
                    self.connections_max = max(self.connections_max, cursor.fetchone()[0])
                    self.connections_samples += 1
                    if set(_children(self.master_pid)) - self._workers:
                        self.workers_replaced = True
        finally:
            connection.close()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _rss_of(pids: list[int]) -> dict[int, int]:
    """Resident memory in kB of each process that still exists."""
    rss = {}
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss[pid] = int(line.split()[1])
        except OSError:
            continue
    return rss


# --- helpers ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url(database: dict) -> str:
    """A DATABASE_URL for libpq keywords (a host may be a socket folder)."""
    from urllib.parse import quote

    user = quote(database.get("user") or "", safe="")
    password = quote(database.get("password") or "", safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host = database.get("host") or ""
    name = quote(database["dbname"], safe="")
    if host.startswith("/"):
        # django-environ reads a percent-encoded first path segment as a socket folder.
        return f"postgres://{credentials}/{quote(host, safe='')}/{name}"
    port = f":{database['port']}" if database.get("port") else ""
    return f"postgres://{credentials}{host}{port}/{name}"


def libpq_keywords(django_database: dict) -> dict:
    """Django's settings dict of a database as psycopg2.connect keywords."""
    keywords = {
        "dbname": django_database["NAME"],
        "user": django_database.get("USER") or None,
        "password": django_database.get("PASSWORD") or None,
        "host": django_database.get("HOST") or None,
        "port": django_database.get("PORT") or None,
    }
    return {key: value for key, value in keywords.items() if value}
