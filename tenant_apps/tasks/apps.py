"""App config for tasks."""

from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tenant_apps.tasks"
    label = "tasks"
    verbose_name = "Tasks"

    def ready(self):
        from . import receivers  # noqa: F401 - connects the membership receivers
