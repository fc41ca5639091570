"""Background jobs for every organization: beat starts a job in the public schema, which
queues one job per active organization, each running in that organization's schema (the
schema travels with the message: tenant-schemas-celery)."""

import logging

from django.db.models import QuerySet
from django_tenants.utils import get_public_schema_name, tenant_context
from tenant_schemas_celery.app import get_schema_name_from_task
from tenant_schemas_celery.task import TenantTask

from .models import Organization

logger = logging.getLogger(__name__)


def active_organizations() -> QuerySet[Organization]:
    """Organizations whose jobs run (deactivated ones keep their data, and are left alone)."""
    return (
        Organization.objects.filter(is_active=True)
        .exclude(schema_name=get_public_schema_name())
        .order_by("schema_name")
    )


def queue_for_each_organization(job, *args, **kwargs) -> list[str]:
    """Queue `job(*args, **kwargs)` once per active organization, in its schema. One that
    cannot be queued is logged with its schema name and the others still are; returns the
    schema names that failed."""
    failed = []
    for organization in active_organizations():
        try:
            with tenant_context(organization):
                job.apply_async(args=args, kwargs=kwargs)
        except Exception:
            # Logged with the traceback; the loop goes on with the next organization.
            logger.exception(
                "Could not queue job %s for schema %s", job.name, organization.schema_name
            )
            failed.append(organization.schema_name)
    return failed


class OrganizationJob(TenantTask):
    """Base of jobs that run in one organization's schema: a failure is logged with the
    schema's name (Celery's own log line names the job, not the organization)."""

    abstract = True

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        schema_name = get_schema_name_from_task(self, kwargs) or get_public_schema_name()
        logger.error("Job %s failed in schema %s: %r", self.name, schema_name, exc)
        super().on_failure(exc, task_id, args, kwargs, einfo)
