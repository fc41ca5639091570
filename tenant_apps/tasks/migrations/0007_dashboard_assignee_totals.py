"""Open tasks per assignee for the whole organization, kept as its own running count.

The top assignees of the whole organization added up one row per (assignee, project) of
tasks_dashboard_assignee (0005): some 10,000 rows for 200 members working across 50 projects.
tasks_dashboard_assignee_total holds one per assignee: a statement trigger on
tasks_dashboard_assignee adds each statement's change rows up per user as they are written
(the compaction's totals, `compacted`, are not changes, and its deletions are not counted).
Emptying the counts (TRUNCATE of the tasks or assignments) empties it too.

An index on tasks_dashboard_due's date serves the whole organization's overdue and due-soon
figures, which read the dates before next week only.
"""

from django.db import migrations, models


def _function(name: str, body: str) -> str:
    """A trigger function counting into the written table's own schema, whatever the caller's
    search path (as in 0005)."""
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    caller_path text := current_setting('search_path');
BEGIN
    PERFORM set_config('search_path', quote_ident(TG_TABLE_SCHEMA), true);
{body}
    PERFORM set_config('search_path', caller_path, true);
    RETURN NULL;
END $$;
"""


FUNCTIONS = "".join(
    [
        _function(
            "tasks_dashboard_assignee_counted",
            """
    INSERT INTO tasks_dashboard_assignee_total (user_id, n)
    SELECT user_id, sum(n) FROM new_rows WHERE NOT compacted
    GROUP BY 1 HAVING sum(n) <> 0;
""",
        ),
        _function(
            "tasks_dashboard_tasks_truncated",
            """
    DELETE FROM tasks_dashboard_count;
    DELETE FROM tasks_dashboard_due;
    DELETE FROM tasks_dashboard_assignee;
    DELETE FROM tasks_dashboard_assignee_total;
""",
        ),
        _function(
            "tasks_dashboard_assignments_truncated",
            """
    DELETE FROM tasks_dashboard_assignee;
    DELETE FROM tasks_dashboard_assignee_total;
""",
        ),
    ]
)

# The two functions as 0005 wrote them, for going back.
FUNCTIONS_BEFORE = "".join(
    [
        _function(
            "tasks_dashboard_tasks_truncated",
            """
    DELETE FROM tasks_dashboard_count;
    DELETE FROM tasks_dashboard_due;
    DELETE FROM tasks_dashboard_assignee;
""",
        ),
        _function(
            "tasks_dashboard_assignments_truncated",
            """
    DELETE FROM tasks_dashboard_assignee;
""",
        ),
    ]
)

# No change row is written while the totals of the rows already there are computed.
LOCK = (
    "LOCK TABLE tasks_task, tasks_task_assignees, tasks_dashboard_assignee"
    " IN SHARE ROW EXCLUSIVE MODE"
)

TRIGGER = """
CREATE TRIGGER tasks_dashboard_assignee_counted AFTER INSERT ON tasks_dashboard_assignee
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_dashboard_assignee_counted();
"""

BACKFILL = """
INSERT INTO tasks_dashboard_assignee_total (user_id, n, compacted)
SELECT user_id, sum(n), true FROM tasks_dashboard_assignee GROUP BY 1 HAVING sum(n) <> 0;
"""

DROP = (
    "DROP TRIGGER tasks_dashboard_assignee_counted ON tasks_dashboard_assignee;"
    " DROP FUNCTION tasks_dashboard_assignee_counted();"
)


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0006_title_trigram_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="DashboardAssigneeTotal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("user_id", models.BigIntegerField()),
                ("n", models.BigIntegerField()),
                ("compacted", models.BooleanField(db_default=False)),
            ],
            options={
                "db_table": "tasks_dashboard_assignee_total",
                "indexes": [
                    models.Index(
                        condition=models.Q(("compacted", False)),
                        fields=["id"],
                        name="tasks_dash_total_new",
                    ),
                ],
            },
        ),
        migrations.AddIndex(
            model_name="dashboarddue",
            index=models.Index(fields=["due_date"], name="tasks_dash_due_date"),
        ),
        migrations.RunSQL(
            [LOCK, FUNCTIONS, TRIGGER, BACKFILL],
            reverse_sql=[DROP, FUNCTIONS_BEFORE],
        ),
    ]
