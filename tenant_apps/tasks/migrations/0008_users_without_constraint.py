"""Creator, deleter and assignees are users' ids without foreign-key constraints
(tenant_apps.people): drop the keys of schemas migrated before (newer ones never had them;
their assignments table is the declared TaskAssignee from 0001 on)."""

from django.db import migrations

from tenant_apps.people import user_keys_drop


class Migration(migrations.Migration):
    dependencies = [("tasks", "0007_dashboard_assignee_totals")]

    operations = [user_keys_drop("tasks_task", "tasks_task_assignees")]
