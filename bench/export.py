"""CSV export at scale: a real Celery worker writes the large organization's tasks through the
API, as in production; rows for the rate and the worker's peak memory.

Usage: DJANGO_SETTINGS_MODULE=saas.settings python -m bench.run --only export [--quick]
(`python -m bench.export [--quick]` runs this module alone.)
Exports `bench-scale` (a million tasks; `tl-quick`, 50,000, with --quick). Needs a broker
(REDIS_URL; `make bench` starts the embedded Redis): without one the module adds a note and no
rows. The worker runs on a queue of its own with EXPORT_ROOT in a temporary folder; the export
and its file are deleted at the end. Peak RSS is the kernel's high-water mark (VmHWM) of every
worker process: the main process and the pool child that ran the job. Target: peak RSS <= 250
MB, however many rows.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import django

django.setup()

from django.test.utils import override_settings  # noqa: E402
from django_tenants.utils import tenant_context  # noqa: E402
from knox.models import AuthToken  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from bench.core import Report, Row  # noqa: E402
from bench.data import ensure_scale_org  # noqa: E402
from bench.task_list import QUICK, SCALE_TASKS, bench_user, ensure_sized_org  # noqa: E402
from saas.celery import app as celery_app  # noqa: E402
from tenant_apps.exports.files import export_path  # noqa: E402
from tenant_apps.exports.models import Export, ExportStatus  # noqa: E402
from tenant_apps.exports.writer import CHUNK_ROWS  # noqa: E402

SECTION = "CSV export"
BASE_DIR = Path(__file__).resolve().parent.parent
TARGET_PEAK_RSS_MB = 250
START_TIMEOUT = 60
EXPORT_TIMEOUT = 30 * 60


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (from every process's parent in /proc/<pid>/stat)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def memory_kb(pid: int, field: str) -> int:
    """A VmHWM/VmRSS line of /proc/<pid>/status, in kB (0 if the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def start_worker(log_path: Path, queue: str, export_root: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "saas",
        "worker",
        "--loglevel=info",
        "--concurrency=1",
        f"--queues={queue}",
        f"--hostname={queue}@%h",
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
    ]
    log = log_path.open("wb")
    # The worker reads its settings from the environment: the same queue and folder.
    env = {**os.environ, "EXPORT_ROOT": str(export_root), "CELERY_QUEUE": queue}
    worker = subprocess.Popen(
        command,
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while " ready." not in log_path.read_text(errors="replace"):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the worker did not start:\n{log_path.read_text()}")
        time.sleep(0.2)
    return worker


def run(report: Report, *, quick: bool) -> None:
    if celery_app.conf.task_always_eager:
        report.note("CSV export: skipped, no broker (set REDIS_URL; make bench starts one).")
        return
    organization = ensure_sized_org(QUICK) if quick else ensure_scale_org(SCALE_TASKS)
    export_root = Path(tempfile.mkdtemp(prefix="bench-export-"))
    queue = f"bench-export-{os.getpid()}"
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = queue  # where the API queues the job
    try:
        with override_settings(EXPORT_ROOT=export_root):
            figures = export_once(organization, export_root, queue)
    finally:
        celery_app.conf.task_default_queue = default_queue
    shutil.rmtree(export_root, ignore_errors=True)  # kept (with the worker's log) on failure
    rows = figures["rows"]
    what = f"{rows:,} tasks, COPY in chunks of {CHUNK_ROWS:,} rows, one worker process"
    report.add(
        Row(
            section=SECTION,
            scenario=f"{rows:,} tasks: worker peak RSS (VmHWM, any process)",
            value=figures["peak_mb"],
            unit="MB",
            reference=figures["idle_mb"],
            reference_name="the idle worker",
            target=f"<= {TARGET_PEAK_RSS_MB} MB",
            passed=figures["peak_mb"] <= TARGET_PEAK_RSS_MB,
            details={"what": what},
        )
    )
    for scenario, value, unit in (
        ("export rate", rows / figures["job_s"], "rows/s"),
        ("job time (started -> done)", figures["job_s"], "s"),
        ("request -> done (queue included)", figures["total_s"], "s"),
        ("file size", figures["size"] / 2**20, "MB"),
        (
            "download (streamed, in-process)",
            figures["size"] / 2**20 / figures["download_s"],
            "MB/s",
        ),
    ):
        report.add(
            Row(
                section=SECTION,
                scenario=f"{rows:,} tasks: {scenario}",
                value=value,
                unit=unit,
                details={"progress_updates_seen": figures["progress"]} if unit == "s" else {},
            )
        )


def export_once(organization, export_root: Path, queue: str) -> dict:
    """One export through the API and a real worker; its figures."""
    user = bench_user()
    _, token = AuthToken.objects.create(user=user)
    client = APIClient(HTTP_HOST=organization.domain, HTTP_AUTHORIZATION=f"Bearer {token}")
    log_path = export_root / "worker.log"
    worker = start_worker(log_path, queue, export_root)
    export_id = None
    try:
        idle = {pid: memory_kb(pid, "VmRSS") for pid in process_tree(worker.pid)}
        started = time.perf_counter()
        response = client.post("/api/exports/", {}, format="json")
        assert response.status_code == 202, response.content
        export_id = response.json()["id"]
        progress = set()
        peak = dict(idle)
        while True:
            for pid in process_tree(worker.pid):
                peak[pid] = max(peak.get(pid, 0), memory_kb(pid, "VmHWM"))
            with tenant_context(organization):
                export = Export.objects.get(pk=export_id)
            progress.add(export.rows_written)
            if export.status in (ExportStatus.DONE, ExportStatus.FAILED):
                break
            if time.perf_counter() - started > EXPORT_TIMEOUT:
                raise SystemExit(f"export {export_id} still {export.status}")
            time.sleep(0.2)
        total_s = time.perf_counter() - started
        if export.status != ExportStatus.DONE:
            raise SystemExit(f"export failed; see {log_path}")
        with tenant_context(organization):
            size = export_path(export_id).stat().st_size
        download_started = time.perf_counter()
        streamed = sum(len(chunk) for chunk in client.get(f"/api/exports/{export_id}/download/"))
        download_s = time.perf_counter() - download_started
        assert streamed == size, (streamed, size)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        if export_id is not None:
            with tenant_context(organization):
                export_path(export_id).unlink(missing_ok=True)
                Export.objects.filter(pk=export_id).delete()
        AuthToken.objects.filter(user=user).delete()
        with celery_app.connection_for_write() as broker:
            broker.default_channel.client.delete(
                queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"
            )
    return {
        "rows": export.rows_written,
        "job_s": (export.finished_at - export.started_at).total_seconds(),
        "total_s": total_s,
        "size": size,
        "download_s": download_s,
        "progress": len(progress),
        "peak_mb": max(peak.values()) / 1024,
        "idle_mb": max(idle.values()) / 1024,
    }


def main() -> int:
    """This module alone: its table, nothing written (bench.run writes the results file)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    report = Report(quick=parser.parse_args().quick)
    run(report, quick=report.quick)
    print(report.table())
    for note in report.notes:
        print(f"note: {note}")
    return 1 if report.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
