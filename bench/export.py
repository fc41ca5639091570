"""CSV export at scale: a real Celery worker writes bench.task_list's organization
`bench-scale` (N tasks) through the API, as in production; prints the rate and the worker's
peak memory.

Usage: DJANGO_SETTINGS_MODULE=saas.settings python -m bench.export [--tasks 1000000]
Needs a broker (REDIS_URL; `make bench` starts the embedded Redis). The worker runs on a
queue of its own with EXPORT_ROOT in a temporary folder; the export and its file are deleted
at the end. Peak RSS is the kernel's high-water mark (VmHWM) of every worker process: the
main process and the pool child that ran the job.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXPORT_ROOT = Path(tempfile.mkdtemp(prefix="bench-export-"))
QUEUE = f"bench-export-{os.getpid()}"
# Read by the settings below and inherited by the worker: both use these.
os.environ["EXPORT_ROOT"] = str(EXPORT_ROOT)
os.environ["CELERY_QUEUE"] = QUEUE

import django  # noqa: E402

django.setup()

from django_tenants.utils import tenant_context  # noqa: E402
from knox.models import AuthToken  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from bench.data import EMAIL, ensure_data  # noqa: E402
from saas.celery import app as celery_app  # noqa: E402
from shared_apps.accounts.models import User  # noqa: E402
from tenant_apps.exports.files import export_path  # noqa: E402
from tenant_apps.exports.models import Export, ExportStatus  # noqa: E402
from tenant_apps.exports.writer import CHUNK_ROWS  # noqa: E402

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


def start_worker(log_path: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "saas",
        "worker",
        "--loglevel=info",
        "--concurrency=1",
        f"--queues={QUEUE}",
        f"--hostname={QUEUE}@%h",
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
    ]
    log = log_path.open("wb")
    worker = subprocess.Popen(
        command, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + START_TIMEOUT
    while " ready." not in log_path.read_text(errors="replace"):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the worker did not start:\n{log_path.read_text()}")
        time.sleep(0.2)
    return worker


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1_000_000)
    args = parser.parse_args()
    if celery_app.conf.task_always_eager:
        raise SystemExit("bench.export needs a broker: set REDIS_URL (make bench does).")
    organization = ensure_data(args.tasks)
    user = User.objects.get(email=EMAIL)
    _, token = AuthToken.objects.create(user=user)
    client = APIClient(HTTP_HOST=organization.domain, HTTP_AUTHORIZATION=f"Bearer {token}")
    log_path = EXPORT_ROOT / "worker.log"
    worker = start_worker(log_path)
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
        job_s = (export.finished_at - export.started_at).total_seconds()
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
                QUEUE, f"_kombu.binding.{QUEUE}", f"_kombu.binding_permanent.{QUEUE}"
            )

    rows = export.rows_written
    peak_mb = max(peak.values()) / 1024
    idle_mb = max(idle.values()) / 1024
    print(
        f"\nCSV export of one organization with {rows:,} tasks by a Celery worker "
        f"(COPY in chunks of {CHUNK_ROWS:,} rows)"
    )
    header = f"{'measure':<34} {'value':>16}"
    print(header)
    print("-" * len(header))
    print(f"{'job time (started -> done)':<34} {job_s:>14.1f} s")
    print(f"{'export rate':<34} {rows / job_s:>10,.0f} rows/s")
    print(f"{'request -> done (queue included)':<34} {total_s:>14.1f} s")
    print(f"{'file size':<34} {size / 2**20:>13.1f} MB")
    print(f"{'download (streamed, in-process)':<34} {size / 2**20 / download_s:>11.0f} MB/s")
    print(f"{'progress updates seen':<34} {len(progress):>16}")
    print(f"{'worker RSS before (largest proc)':<34} {idle_mb:>13.1f} MB")
    print(f"{'worker peak RSS (VmHWM, any proc)':<34} {peak_mb:>13.1f} MB")
    verdict = "met" if peak_mb <= TARGET_PEAK_RSS_MB else "MISSED"
    print(f"target: peak RSS <= {TARGET_PEAK_RSS_MB} MB ({verdict}: {peak_mb:.1f} MB)")
    shutil.rmtree(EXPORT_ROOT, ignore_errors=True)  # kept (with the worker's log) on failure


if __name__ == "__main__":
    main()
