"""The default listing's index carries the due date as its last key column, so a due-date
bound on the newest-first listing is checked in the index instead of on each row passed."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('projects', '0003_users_without_constraint'),
        ('tasks', '0009_creator_created_index'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='task',
            name='tasks_created_id',
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(fields=['-created_at', '-id', 'due_date'], name='tasks_created_id_due'),
        ),
    ]
