"""`?search=`'s index for phrases: a GIN index of the title's word junctions
(models.TITLE_JUNCTIONS, public.word_junctions of the upper-cased title), next to the trigram
index, which still answers single words and phrases without a usable junction.

CREATE INDEX (not CONCURRENTLY), as in 0011: a new or small schema builds it in milliseconds;
at a million tasks it takes ~15 s here, holding a SHARE lock on tasks_task (reads go on,
writes wait). For such a tenant, build it beforehand in its schema without blocking writes,

    CREATE INDEX CONCURRENTLY IF NOT EXISTS tasks_title_junctions
        ON tasks_task USING gin ((public.word_junctions(UPPER(title))));

and this migration, finding it, only records it (IF NOT EXISTS).

Then ANALYZE: the planner estimates how many titles hold a junction from the most common
elements of the index's expression, which only ANALYZE gathers.
"""

import django.contrib.postgres.fields
import django.contrib.postgres.indexes
import django.db.models.expressions
import django.db.models.functions.text
from django.db import migrations, models

CREATE = (
    'CREATE INDEX IF NOT EXISTS "tasks_title_junctions" ON "tasks_task" '
    'USING gin ((public.word_junctions(UPPER("title"))))'
)
DROP = 'DROP INDEX IF EXISTS "tasks_title_junctions"'
ANALYZE = 'ANALYZE "tasks_task"'


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_word_junctions_function"),
        ("tasks", "0012_shared_dashboard_functions"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(CREATE, reverse_sql=DROP),
                migrations.RunSQL(ANALYZE, reverse_sql=migrations.RunSQL.noop),
            ],
            state_operations=[
                migrations.AddIndex(
                    model_name="task",
                    index=django.contrib.postgres.indexes.GinIndex(
                        django.db.models.expressions.Func(
                            django.db.models.functions.text.Upper(models.F("title")),
                            function="public.word_junctions",
                            output_field=django.contrib.postgres.fields.ArrayField(
                                base_field=models.TextField()
                            ),
                        ),
                        name="tasks_title_junctions",
                    ),
                ),
            ],
        ),
    ]
