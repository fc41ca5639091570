"""Background jobs of tasks: the daily overdue digest and the trash purge, each queued by
beat's daily job in every active organization (shared_apps.organizations.jobs)."""

from celery import shared_task
from django.db import connection
from django.utils import timezone

from shared_apps.organizations.jobs import OrganizationJob, queue_for_each_organization
from shared_apps.organizations.models import Organization

from .digest import overdue_digest_send
from .services import trash_cutoff, trash_purge


@shared_task(base=OrganizationJob)
def overdue_digest() -> int:
    """Email this organization's members their open tasks overdue or due today."""
    organization = Organization.objects.get(schema_name=connection.schema_name)
    return overdue_digest_send(organization=organization, today=timezone.localdate())


@shared_task
def overdue_digest_all() -> None:
    """Beat's daily job: queue the overdue digest in every active organization."""
    queue_for_each_organization(overdue_digest)


@shared_task(base=OrganizationJob)
def trash_purge_organization() -> dict[str, int]:
    """What `manage.py purge_trash` does, for this organization."""
    return trash_purge(deleted_before=trash_cutoff())


@shared_task
def trash_purge_all() -> None:
    """Beat's daily job: queue the trash purge in every active organization."""
    queue_for_each_organization(trash_purge_organization)
