"""App config for activity."""

from django.apps import AppConfig


class ActivityConfig(AppConfig):
    name = "tenant_apps.activity"
    label = "activity"
    verbose_name = "Activity"

    def ready(self):
        from . import receivers  # noqa: F401 - connects the membership receivers
