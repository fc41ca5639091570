"""Queueing background jobs from a request: only once its transaction commits, and a quick
503 (never a hang, never a 500) when the queue cannot take the job."""

import logging
from collections.abc import Callable

from django.db import connection, transaction
from django_tenants.utils import schema_context
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from saas.api.exceptions import JobQueueUnavailableError

logger = logging.getLogger(__name__)

# What a dead, unreachable or too slow broker raises while publishing (kombu wraps most of it;
# socket errors can surface as they are).
BROKER_ERRORS = (OperationalError, RedisError, OSError)


def enqueue_on_commit(job, *args, undo: Callable[[], object] | None = None, **kwargs) -> None:
    """Queue the Celery task `job(*args, **kwargs)` once the current transaction commits
    (at once outside one): a rolled-back request queues nothing, and the worker never looks
    for rows that are not committed yet.

    The job carries the schema the connection is on when this is called
    (tenant-schemas-celery's header), whenever the commit comes. If the broker
    cannot take it within JOB_QUEUE_TIMEOUT (plus one retry), `undo` removes what the request
    wrote for the job, so nothing is left waiting for a job that will never run, and
    JobQueueUnavailableError (a 503) is raised.
    """

    # The schema of the request queuing the job, taken now: the commit may come after a
    # tenant_context has ended, and the job (and the undo) must run where the rows are.
    schema = connection.schema_name

    def send():
        try:
            job.apply_async(args=args, kwargs=kwargs, headers={"_schema_name": schema})
        except BROKER_ERRORS as error:
            logger.warning("Could not queue job %s in %s: %s", job.name, schema, error)
            if undo is not None:
                with schema_context(schema):
                    undo()
            raise JobQueueUnavailableError from error

    transaction.on_commit(send)
