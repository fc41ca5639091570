"""Background jobs for every organization: beat starts a job in the public schema, which
queues one job per active organization, each running in that organization's schema (the
schema travels with the message: tenant-schemas-celery). And the refill of the pool of
spare schemas onboarding claims."""

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django_tenants.utils import get_public_schema_name, tenant_context
from tenant_schemas_celery.app import get_schema_name_from_task
from tenant_schemas_celery.task import TenantTask

from saas.api.jobs import BROKER_ERRORS

from .models import Organization
from .schema_pool.pool import pool_refill

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


# A refill builds at most SCHEMA_POOL_SIZE spares (tens of milliseconds each; the first one of
# a new migration state is migrated in full): one still running after this long is stuck.
SCHEMA_POOL_REFILL_TIME_LIMIT = 15 * 60


@shared_task(
    soft_time_limit=SCHEMA_POOL_REFILL_TIME_LIMIT, time_limit=SCHEMA_POOL_REFILL_TIME_LIMIT + 60
)
def schema_pool_refill(size: int | None = None) -> int:
    """Beat's job, and the nudge after each onboarding: drop stale spare schemas and build
    spares up to SCHEMA_POOL_SIZE (or `size`). Returns how many were built."""
    return len(pool_refill(size=size).created)


def schema_pool_nudge() -> None:
    """Queue a refill once the current transaction commits (onboarding has just taken a
    spare, or found none). Never fails the onboarding, which has committed by then: a
    broker that cannot take the job is logged, and beat's next run refills instead. Not in
    eager mode, where the refill would run inside the request."""
    if settings.SCHEMA_POOL_SIZE <= 0 or schema_pool_refill.app.conf.task_always_eager:
        return

    def send():
        try:
            # Public: the pool lives there, whatever schema the connection is on now.
            schema_pool_refill.apply_async(headers={"_schema_name": get_public_schema_name()})
        except BROKER_ERRORS as error:
            logger.warning("Could not queue a schema pool refill: %s", error)

    transaction.on_commit(send)
