"""Creator and deleter are users' ids without foreign-key constraints (tenant_apps.people):
drop the keys of schemas migrated before (newer ones never had them)."""

from django.db import migrations

from tenant_apps.people import user_keys_drop


class Migration(migrations.Migration):
    dependencies = [("projects", "0002_soft_delete")]

    operations = [user_keys_drop("projects_project")]
