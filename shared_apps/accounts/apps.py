"""App config for accounts."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "shared_apps.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        # Registers the deploy checks (the emailed links' and the shared services').
        from saas.api import checks as service_checks  # noqa: F401

        from . import checks  # noqa: F401
