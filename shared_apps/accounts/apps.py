"""App config for accounts."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "shared_apps.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from . import checks  # noqa: F401 - registers the deploy checks
