"""Background jobs in tests: a real Celery worker (a subprocess against the test database)
when a broker is configured (REDIS_URL, as CI and `make test` set it), eager mode otherwise;
and brokers that are down, for the 503 tests."""

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from saas.celery import app as celery_app

from .dev_server import database_url, start_logged, stop_process

# This run's own queue: runs sharing one Redis never take each other's jobs.
JOB_QUEUE = f"jobs-test-{os.getpid()}"
# The worker's database connections are named, so tests can wait for them to be gone.
WORKER_APPLICATION_NAME = "saas-test-worker"
START_TIMEOUT = 60


def real_worker_mode() -> bool:
    """True when the settings name a broker (jobs then go through it to a real worker)."""
    return not celery_app.conf.task_always_eager


def mode_description() -> str:
    if real_worker_mode():
        return (
            f"background jobs: a real Celery worker (queue {JOB_QUEUE} on the REDIS_URL "
            "broker), started for the tests that need one"
        )
    return "background jobs: eager (REDIS_URL is unset), run inside the test process"


@dataclass
class JobWorker:
    """`celery -A saas worker` on this run's queue, against the test database."""

    log_path: Path
    export_root: Path
    mail_dir: Path
    process: subprocess.Popen | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def start(self, database: dict) -> None:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=database_url(database),
            CELERY_QUEUE=JOB_QUEUE,
            EXPORT_ROOT=str(self.export_root),
            EMAIL_URL=f"filemail://{self.mail_dir}",
            PGAPPNAME=WORKER_APPLICATION_NAME,
            LOG_LEVEL="INFO",
        )
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "saas",
            "worker",
            "--loglevel=info",
            "--concurrency=1",
            f"--queues={JOB_QUEUE}",
            f"--hostname={JOB_QUEUE}@%h",
            # Alone on its queue: no need to talk to other workers (other runs' included).
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ]
        self.process = start_logged(
            command,
            env=env,
            log_path=self.log_path,
            ready=lambda: " ready." in self.log(),
            what="worker",
            timeout=START_TIMEOUT,
        )

    def stop(self) -> None:
        # TERM: warm shutdown (the job in hand finishes); then the whole process group.
        stop_process(self.process, grace=20)


def remove_queue(name: str = JOB_QUEUE) -> None:
    """Delete a queue of this run and its routing keys from the broker (Redis)."""
    if not real_worker_mode():
        return
    with celery_app.connection_for_write() as broker:
        broker.default_channel.client.delete(
            name, f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}"
        )


def _reset_broker_connections() -> None:
    # Celery keeps a connection and a producer pool per app, made from broker_url when first
    # used; dropping them makes the next job connect to the broker_url set now.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextmanager
def eager_jobs() -> Iterator[None]:
    """Jobs run inside this process, in the caller's transaction: what a test that never
    commits needs (a real worker could not see its rows)."""
    saved = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = saved


@contextmanager
def broker_at(url: str) -> Iterator[None]:
    """Jobs are sent (not run eagerly) to the broker at `url`."""
    conf = celery_app.conf
    saved = conf.broker_url, conf.task_always_eager
    conf.broker_url, conf.task_always_eager = url, False
    _reset_broker_connections()
    try:
        yield
    finally:
        conf.broker_url, conf.task_always_eager = saved
        _reset_broker_connections()


@contextmanager
def refusing_broker() -> Iterator[str]:
    """A Redis URL where nothing listens (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with broker_at(f"redis://127.0.0.1:{port}/0"):
        yield "refused"


@contextmanager
def hanging_broker() -> Iterator[str]:
    """A Redis URL whose server accepts connections and never answers (a hung Redis, a
    black-holed network path)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        with broker_at(f"redis://127.0.0.1:{server.getsockname()[1]}/0"):
            yield "hanging"
