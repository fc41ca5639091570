"""Load on a real server: gunicorn with bench.settings on loopback, driven by wrk (Debian's
`wrk` package) with a Lua script for the headers; CPU time of the server's workers and of wrk."""

import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

BENCH_SETTINGS = "bench.settings"
START_TIMEOUT = 60
WRK_TIMEOUT = "10s"
LUA = """
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Host"] = "{host}"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class Load:
    """One wrk run against one view."""

    requests: int
    seconds: float
    errors: int  # socket errors (connect, read, write, timeout), statuses >= 400, a stall
    p50_ms: float
    p99_ms: float
    client_cpu: float  # seconds of CPU wrk used
    server_cpu: float  # seconds of CPU the server's workers used

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """gunicorn with bench.settings on a free loopback port, for the duration of a `with`."""

    def __init__(self, log_path: Path):
        self.port = _free_port()
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": BENCH_SETTINGS,
            "BENCH_PORT": str(self.port),
            # Production mode: no query log, no static-file rescans on every request.
            "DEBUG": "false",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or settings.SECRET_KEY,
            "PYTHONPATH": str(settings.BASE_DIR),
        }
        command = [sys.executable, "-m", "gunicorn", "-c", "python:bench.gunicorn_conf"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*command, "saas.wsgi:application"],
                cwd=settings.BASE_DIR,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200 and len(self.workers()) >= 2:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"gunicorn did not answer in {START_TIMEOUT} s")

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        """The worker processes (children of the gunicorn master)."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if parent == self.process.pid:
                pids.append(int(stat.parent.name))
        return pids

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.workers():
            try:
                total += _cpu_seconds(pid)
            except OSError:
                pass  # a worker that just exited: the run's errors will say so
        return total

    def get_json(self, path: str, host: str, token: str):
        request = urllib.request.Request(
            self.url + path, headers={"Host": host, "Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200, (path, response.status)
            return json.loads(response.read())


def wrk(server: Server, path: str, *, script: Path, clients: int, seconds: int) -> Load:
    """One run of wrk: `clients` connections on one thread (it uses a fraction of a core)."""
    server_before = server.cpu_seconds()
    client_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [
        "wrk",
        "--threads",
        "1",
        "--connections",
        str(clients),
        "--duration",
        f"{seconds}s",
        "--timeout",
        WRK_TIMEOUT,
        "--script",
        str(script),
        server.url + path,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = server.cpu_seconds() - server_before
    summary = json.loads(output.strip().splitlines()[-1])
    errors = sum(summary[key] for key in ("connect", "read", "write", "status", "timeout"))
    if summary["requests"] == 0:
        # wrk counts a timeout only once a request is older than --timeout: a server that
        # answered nothing for the whole (shorter) run would otherwise show no error.
        errors += 1
    return Load(
        requests=summary["requests"],
        seconds=summary["duration_us"] / 1e6,
        errors=errors,
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        client_cpu=(client_after.ru_utime + client_after.ru_stime)
        - (client_before.ru_utime + client_before.ru_stime),
        server_cpu=server_cpu,
    )
