"""The Celery application: background jobs run in the schema of the organization that queued
them (tenant-schemas-celery records the schema in each message and restores it in the
worker), configured from Django's settings (`CELERY_*`), jobs found in each app's `jobs.py`.

Workers: `celery -A saas worker --loglevel=info`; the schedule: `celery -A saas beat
--loglevel=info` (exactly one beat per deployment). `make run` starts both next to the web
server (saas/Procfile).
"""

import os

from celery.signals import task_postrun, task_prerun, worker_init
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings")

app = CeleryApp("saas")
app.config_from_object("django.conf:settings", namespace="CELERY")
# `jobs.py`, not Celery's default `tasks.py`: `tenant_apps.tasks.tasks` would read badly.
app.autodiscover_tasks(related_name="jobs")


@worker_init.connect
def _refuse_transaction_pooling(**kwargs):
    """Workers hold session state across transactions: never behind a transaction pooler."""
    from saas.db.pooling import refuse_worker_behind_transaction_pooler

    refuse_worker_behind_transaction_pooler()


@task_prerun.connect
def _count_job_organization(**kwargs):
    """Count the organization a job runs in against the worker's connection (after
    tenant-schemas-celery switched to it; it switches back to public before postrun)."""
    from saas.db.recycle import connections_recycle_if_spent

    connections_recycle_if_spent(close=False)


@task_postrun.connect
def _recycle_connections(**kwargs):
    """Close the worker's connection once it has served CONN_MAX_SCHEMAS organizations, as
    the web's are (saas/db/recycle.py)."""
    from saas.db.recycle import connections_recycle_if_spent

    connections_recycle_if_spent()
