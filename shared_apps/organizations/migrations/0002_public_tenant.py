"""Create the public tenant and route BASE_DOMAIN to it, so the base host serves the public site."""

from django.conf import settings
from django.db import migrations


def create_public_tenant(apps, schema_editor):
    Organization = apps.get_model("organizations", "Organization")
    Domain = apps.get_model("organizations", "Domain")
    public, _ = Organization.objects.get_or_create(
        schema_name="public", defaults={"name": "Public site", "slug": "public"}
    )
    Domain.objects.get_or_create(
        domain=settings.BASE_DOMAIN, defaults={"tenant": public, "is_primary": True}
    )


class Migration(migrations.Migration):
    dependencies = [("organizations", "0001_initial")]

    operations = [migrations.RunPython(create_public_tenant, migrations.RunPython.noop)]
