"""Background jobs of exports: writing one, and the daily cleanup."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from shared_apps.organizations.jobs import OrganizationJob, queue_for_each_organization

from .services import export_cleanup, export_write

# An export of a million tasks takes seconds; one still running after an hour is stuck.
EXPORT_SOFT_TIME_LIMIT = 60 * 60


@shared_task(
    # Acknowledged once done: a worker lost mid-way (killed, out of memory) leaves the
    # message to be delivered again, and export_write starts that export over.
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=EXPORT_SOFT_TIME_LIMIT,
    time_limit=EXPORT_SOFT_TIME_LIMIT + 60,
)
def export_run(export_id: int) -> None:
    """Write export `export_id`'s CSV (in the schema it was requested from)."""
    export_write(export_id=export_id)


@shared_task(base=OrganizationJob)
def export_cleanup_organization() -> int:
    """Delete this organization's exports (rows and files) older than EXPORT_RETENTION_DAYS."""
    cutoff = timezone.now() - timedelta(days=settings.EXPORT_RETENTION_DAYS)
    return export_cleanup(created_before=cutoff)


@shared_task
def export_cleanup_all() -> None:
    """Beat's daily job: queue the cleanup in every active organization."""
    queue_for_each_organization(export_cleanup_organization)
