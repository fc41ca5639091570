"""`make run` runs the web server, a Celery worker and beat together (saas/Procfile, through
honcho), and Ctrl-C stops all of them."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings

from saas.devserver import BASE_DIR, PROCFILE, processes_command, server_command
from tests.dev_server import committed, database_url, free_port, server_connections
from tests.jobs import JOB_QUEUE, remove_queue

APPLICATION_NAME = "saas-test-make-run"
TIMEOUT = 90
QUEUE = f"{JOB_QUEUE}-make-run"  # this run's own: it must not take anyone's jobs


def test_the_procfile_runs_the_web_server_a_worker_and_beat():
    lines = dict(
        line.split(": ", 1)
        for line in PROCFILE.read_text().splitlines()
        if line and not line.startswith("#")
    )

    assert set(lines) == {"web", "worker", "beat"}
    # The web server is the one tests/browser starts (saas.devserver.server_command).
    web = server_command("HOST", 0)
    assert lines["web"] == "python manage.py runserver $RUN_ADDRESS"
    assert web[1:3] == [str(BASE_DIR / "manage.py"), "runserver"]
    assert lines["worker"].startswith("celery -A saas worker")
    assert lines["beat"].startswith("celery -A saas beat")
    command = processes_command()
    assert command[1:2] == ["start"] and str(PROCFILE) in command
    assert command[command.index("--env") + 1] == os.devnull  # .env never beats the real env


def _log(path) -> str:
    return path.read_text(errors="replace")


def test_make_run_starts_web_worker_and_beat_and_ctrl_c_stops_them_all(
    django_db_setup, django_db_blocker, tmp_path
):
    port = free_port()
    log_path = tmp_path / "run.log"
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(settings.DATABASES["default"]),
        DEBUG="false",  # no demo data in the test database
        CELERY_QUEUE=QUEUE,
        CELERY_BEAT_SCHEDULE_FILENAME=str(tmp_path / "beat-schedule"),
        EXPORT_ROOT=str(tmp_path / "exports"),
        PGAPPNAME=APPLICATION_NAME,
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "saas.devserver", "127.0.0.1", str(port)],
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + TIMEOUT
        wanted = ("Starting development server", " ready.", "beat: Starting...")
        while not all(text in _log(log_path) for text in wanted):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"make run did not start its three processes:\n{_log(log_path)}")
            time.sleep(0.3)

        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's group
        process.wait(timeout=30)

        output = _log(log_path)
        for name in ("web.1", "worker.1", "beat.1"):
            assert f"{name} stopped" in output, output
        remaining = subprocess.run(
            ["pgrep", "-g", str(process.pid)], capture_output=True, text=True
        ).stdout.split()
        assert remaining == [], output
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        remove_queue(QUEUE)
        with committed(django_db_blocker):
            deadline = time.monotonic() + 10
            while server_connections(APPLICATION_NAME) and time.monotonic() < deadline:
                time.sleep(0.1)
