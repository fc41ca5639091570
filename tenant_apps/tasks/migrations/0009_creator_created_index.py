"""`?created_by=` newest first from one index: the creator, then the default listing's order
(replaces the creator's own index, which it starts with)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('projects', '0003_users_without_constraint'),
        ('tasks', '0008_users_without_constraint'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='task',
            name='created_by',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(fields=['created_by', '-created_at', '-id'], name='tasks_creator_created_id'),
        ),
    ]
