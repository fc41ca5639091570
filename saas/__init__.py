"""Project package: settings, URLconfs, cross-cutting HTTP plumbing and the Celery app."""

# Loaded with Django, so `@shared_task` jobs bind to this app (tenant-aware) in every process.
from .celery import app as celery_app

__all__ = ("celery_app",)
