"""`?search=`'s trigram index on the search key (models.TITLE_SEARCH_KEY: the title upper-cased,
spaces turned into "0"), in place of the one on UPPER(title): a phrase's trigrams across its
spaces say which words stand next to each other.

CREATE INDEX (not CONCURRENTLY), as in 0006: a new or small schema builds it in milliseconds;
at a million tasks it takes ~8-15 s here, holding a SHARE lock on tasks_task (reads go on,
writes wait). For such a tenant, build it beforehand in its schema without blocking writes,

    CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_title_key_trgm
        ON tasks_task USING gin ((UPPER(REPLACE(title, ' ', '0'))) gin_trgm_ops);

and this migration, finding it, only records it (IF NOT EXISTS) and drops the old one.

Then ANALYZE: the planner knows how many titles a term matches from the statistics of the
index's expression, which only ANALYZE gathers (autovacuum waits for a tenth of the rows to
change). Without them it guesses 0.5% for any term, and at a million tasks it sorted every
title holding a common word (~0.5 s) instead of walking the listing's index (~2 ms).
"""

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.db import migrations, models

CREATE = (
    'CREATE INDEX IF NOT EXISTS "tasks_title_key_trgm" ON "tasks_task" '
    "USING gin ((UPPER(REPLACE(\"title\", ' ', '0'))) gin_trgm_ops)"
)
DROP = 'DROP INDEX IF EXISTS "tasks_title_key_trgm"'
OLD_CREATE = (
    'CREATE INDEX IF NOT EXISTS "tasks_title_trgm" ON "tasks_task" '
    'USING gin ((UPPER("title")) gin_trgm_ops)'
)
OLD_DROP = 'DROP INDEX IF EXISTS "tasks_title_trgm"'
ANALYZE = 'ANALYZE "tasks_task"'


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0010_listing_index_due_date"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(CREATE, reverse_sql=DROP),
                migrations.RunSQL(OLD_DROP, reverse_sql=OLD_CREATE),
                migrations.RunSQL(ANALYZE, reverse_sql=migrations.RunSQL.noop),
            ],
            state_operations=[
                migrations.RemoveIndex(model_name="task", name="tasks_title_trgm"),
                migrations.AddIndex(
                    model_name="task",
                    index=django.contrib.postgres.indexes.GinIndex(
                        django.contrib.postgres.indexes.OpClass(
                            django.db.models.functions.text.Upper(
                                django.db.models.functions.text.Replace(
                                    models.F("title"), models.Value(" "), models.Value("0")
                                )
                            ),
                            name="gin_trgm_ops",
                        ),
                        name="tasks_title_key_trgm",
                    ),
                ),
            ],
        ),
    ]
