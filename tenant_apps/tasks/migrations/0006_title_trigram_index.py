"""The trigram index that answers `?search=` (icontains on the title) at any size.

CREATE INDEX (not CONCURRENTLY): tenant migrations run per schema inside a transaction, and a
new or small schema builds it in milliseconds. It holds a SHARE lock on tasks_task while it is
built (reads go on, writes wait): about 5 s at a million tasks here. For such a tenant, build
it beforehand without blocking writes, in its schema:

    CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_title_trgm
        ON tasks_task USING gin ((UPPER(title)) gin_trgm_ops);

and this migration, finding it, only records it (IF NOT EXISTS). See docs/PERFORMANCE.md.
"""

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.db import migrations

CREATE = (
    'CREATE INDEX IF NOT EXISTS "tasks_title_trgm" ON "tasks_task" '
    'USING gin ((UPPER("title")) gin_trgm_ops)'
)
DROP = 'DROP INDEX IF EXISTS "tasks_title_trgm"'


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_pg_trgm_extension"),
        ("tasks", "0005_dashboard_assignee_projection"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(CREATE, reverse_sql=DROP)],
            state_operations=[
                migrations.AddIndex(
                    model_name="task",
                    index=django.contrib.postgres.indexes.GinIndex(
                        django.contrib.postgres.indexes.OpClass(
                            django.db.models.functions.text.Upper("title"), name="gin_trgm_ops"
                        ),
                        name="tasks_title_trgm",
                    ),
                ),
            ],
        ),
    ]
