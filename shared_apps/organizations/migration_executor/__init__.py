"""migrate_schemas' executors: django-tenants' own plus `fast` (executor.FastExecutor), picked
by `--executor`, else the EXECUTOR environment variable, else TENANT_MIGRATION_EXECUTOR."""

import os

from django.conf import settings
from django_tenants.migration_executors import get_executor as tenants_get_executor

from .executor import FastExecutor


def get_executor(codename: str | None = None):
    """settings.GET_EXECUTOR_FUNCTION: django-tenants' lookup, with our default executor.

    FastExecutor subclasses django-tenants' MigrationExecutor, which is how its lookup finds
    executors by codename; only the default changes (it would be "standard")."""
    codename = (
        codename
        or os.environ.get("EXECUTOR")
        or getattr(settings, "TENANT_MIGRATION_EXECUTOR", None)
    )
    return tenants_get_executor(codename or FastExecutor.codename)
