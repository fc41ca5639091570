"""`manage.py create_org`: onboard an organization from the command line."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from shared_apps.organizations.services import organization_onboard, organization_url


class Command(BaseCommand):
    help = "Create an organization with its own schema, domain and first ADMIN."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help='Display name, e.g. "Acme Corp"')
        parser.add_argument("--slug", required=True, help="Subdomain, e.g. acme")
        parser.add_argument(
            "--admin-email",
            required=True,
            help="First ADMIN; created if new, and emailed a link to set a password",
        )

    def handle(self, *args, name, slug, admin_email, **options):
        try:
            onboarded = organization_onboard(name=name, slug=slug, admin_email=admin_email)
        except ValidationError as exc:
            raise CommandError("; ".join(_flatten(exc))) from exc
        organization, admin = onboarded.organization, onboarded.admin
        self.stdout.write(
            self.style.SUCCESS(f"Created {organization.name} in schema {organization.schema_name}")
        )
        self.stdout.write(f"URL: {organization_url(organization)}")
        self.stdout.write(f"ADMIN: {admin.email}")
        if onboarded.password_link_sent:
            self.stdout.write(f"{admin.email} has no password yet: emailed a link to set one.")


def _flatten(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{field}: {msg}" for field, msgs in exc.message_dict.items() for msg in msgs]
    return exc.messages
