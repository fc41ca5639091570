"""App config for organizations."""

from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "shared_apps.organizations"
    label = "organizations"
    verbose_name = "Organizations"
