"""Writes for exports: request one, write its file (the job), clean old ones up."""

import logging
import os
import uuid
import zlib
from datetime import datetime

from django.db import connection
from django.utils import timezone

from saas.api.jobs import enqueue_on_commit
from shared_apps.accounts.models import User

from .files import (
    PARTIAL_SUFFIX,
    export_id_of,
    export_path,
    organization_folder,
    partial_path,
)
from .filters import export_tasks
from .models import Export, ExportStatus
from .writer import write_csv

logger = logging.getLogger(__name__)

EXPORT_FAILED = "The export failed. Request a new one; if it fails again, contact support."


def export_create(*, created_by: User, filters: dict[str, str]) -> Export:
    """Record an export of the tasks `filters` select (already checked by
    `export_filters_clean`) and queue its job once the transaction commits.

    If the job cannot be queued the row is deleted again and JobQueueUnavailableError (503)
    raised: no export is left "queued" for a job that does not exist.
    """
    from .jobs import export_run  # the jobs module imports this one

    export = Export.objects.create(created_by=created_by, filters=filters)
    enqueue_on_commit(
        export_run, export.pk, undo=lambda: Export.objects.filter(pk=export.pk).delete()
    )
    return export


def _set(export_id: int, **fields) -> int:
    # One UPDATE, committed at once outside a transaction: readers see the progress live.
    return Export.objects.filter(pk=export_id).update(**fields)


def export_write(*, export_id: int) -> Export | None:
    """The job: write export `export_id`'s CSV in the current schema, recording progress.

    Runs again from the start when the message is delivered twice (a worker lost mid-way);
    does nothing for an export already done, failed or deleted, or one another worker is
    writing right now (a session advisory lock, released with the connection if the worker
    dies). A failure is logged with the schema name and recorded on the export (`failed`,
    with a message for the requester); the partial file is removed.
    """
    key = zlib.crc32(f"export:{connection.schema_name}:{int(export_id)}".encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        if not cursor.fetchone()[0]:
            logger.info(
                "Export %s in schema %s is being written by another worker",
                export_id,
                connection.schema_name,
            )
            return None
    try:
        return _write(export_id)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def _write(export_id: int) -> Export | None:
    """export_write's work, under its lock."""
    started = Export.objects.filter(
        pk=export_id, status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]
    ).update(
        status=ExportStatus.RUNNING,
        started_at=timezone.now(),
        rows_written=0,
        rows_total=None,
        error="",
    )
    if not started:
        logger.info(
            "Export %s in schema %s is finished or gone: nothing to do",
            export_id,
            connection.schema_name,
        )
        return None
    export = Export.objects.get(pk=export_id)
    folder = organization_folder()
    # Attempts that died (a lost worker) left their partial files; none is running now.
    for stale in folder.glob(f"{int(export_id)}.csv.*{PARTIAL_SUFFIX}"):
        stale.unlink(missing_ok=True)
    partial = partial_path(export_id, attempt=uuid.uuid4().hex)
    try:
        tasks = export_tasks(export.filters)
        _set(export_id, rows_total=tasks.count())
        partial.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as out:
            written = write_csv(
                tasks, out, progress=lambda rows: _set(export_id, rows_written=rows)
            )
        os.replace(partial, export_path(export_id))
    except Exception:
        # Any failure (database, disk, time limit): recorded on the export, logged once.
        logger.exception("Export %s failed in schema %s", export_id, connection.schema_name)
        partial.unlink(missing_ok=True)
        _set(
            export_id,
            status=ExportStatus.FAILED,
            error=EXPORT_FAILED,
            finished_at=timezone.now(),
        )
        return Export.objects.get(pk=export_id)
    _set(
        export_id,
        status=ExportStatus.DONE,
        rows_written=written,
        rows_total=written,
        finished_at=timezone.now(),
    )
    logger.info("Export %s in schema %s: %d rows", export_id, connection.schema_name, written)
    return Export.objects.get(pk=export_id)


def export_cleanup(*, created_before: datetime) -> int:
    """Delete the current schema's exports requested before `created_before`, files first
    (a file that cannot be deleted keeps its row, so the next run tries again), then files
    of that age that no export owns any more (left by a worker killed mid-write, or rows
    restored from an older backup). Newer exports and files are untouched. Returns how
    many exports were deleted."""
    old = list(Export.objects.filter(created_at__lt=created_before).values_list("pk", flat=True))
    folder = organization_folder()
    for export_id in old:
        for path in folder.glob(f"{int(export_id)}.csv*"):  # the file and any partial ones
            path.unlink(missing_ok=True)
    Export.objects.filter(pk__in=old).delete()

    if folder.is_dir():
        cutoff = created_before.timestamp()
        owned = set(Export.objects.values_list("pk", flat=True))
        for path in folder.iterdir():
            export_id = export_id_of(path)
            if export_id is None or export_id in owned:
                continue
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
    return len(old)
