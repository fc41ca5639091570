"""`manage.py check --deploy`: production needs the shared Redis (jobs, rate limits, cache)."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.caches, deploy=True)
def check_redis_is_configured(app_configs, **kwargs):
    """Without REDIS_URL, jobs run inside web requests (eager Celery) and each process keeps
    its own rate-limit counters and cache: fine for a laptop, wrong for a deployment."""
    if settings.REDIS_URL:
        return []
    return [
        Error(
            "REDIS_URL is not set: background jobs would run inside web requests and rate "
            "limits would not be shared between processes.",
            hint="Point REDIS_URL at the deployment's Redis (redis://host:6379/0).",
            id="saas.E001",
        )
    ]
