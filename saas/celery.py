"""The Celery application: background jobs run in the schema of the organization that queued
them (tenant-schemas-celery records the schema in each message and restores it in the
worker), configured from Django's settings (`CELERY_*`), jobs found in each app's `jobs.py`.

Workers: `celery -A saas worker --loglevel=info`; the schedule: `celery -A saas beat
--loglevel=info` (exactly one beat per deployment). `make run` starts both next to the web
server (saas/Procfile).
"""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings")

app = CeleryApp("saas")
app.config_from_object("django.conf:settings", namespace="CELERY")
# `jobs.py`, not Celery's default `tasks.py`: `tenant_apps.tasks.tasks` would read badly.
app.autodiscover_tasks(related_name="jobs")
