"""The requester is a user's id without a foreign-key constraint (tenant_apps.people): drop
the key of schemas migrated before (newer ones never had it)."""

from django.db import migrations

from tenant_apps.people import user_keys_drop


class Migration(migrations.Migration):
    dependencies = [("exports", "0001_initial")]

    operations = [user_keys_drop("exports_export")]
