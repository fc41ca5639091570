"""The dashboard's running counts, kept by PostgreSQL triggers (tenant_apps/tasks/models.py).

Statement triggers with transition tables: each INSERT, UPDATE or DELETE of tasks_task or
tasks_task_assignees appends, in its own transaction, one row per figure it changes with the
change (+n / -n). A bulk statement (a project's million tasks trashed, COPY of a seed) appends
one row per key it touched, not one per task. Figures:

* tasks_dashboard_count: live tasks per (project, status, priority);
* tasks_dashboard_due: open live tasks (not DONE) per (project, due date), dated ones only;
* tasks_dashboard_assignee: open live tasks per (assignee, project).

Why the sums are exact under concurrency. A task's own counts come from the row versions the
statement replaced and wrote (old and new transition tables), so they add up whatever commits
in between. An assignee count depends on two tables: a task's change counts the assignments it
sees, an assignment's change counts the task's state it sees. Assignment triggers therefore
lock their tasks FOR SHARE (in id order) and read them after the lock: a task write in progress
(which holds its row) is waited for and its outcome read; a task write that comes later waits
for the assignment's transaction and then sees the assignment. Either order counts each
(task, assignee) pair once.

Lock order (the services lock tasks before their assignment rows, and several tasks in id
order; see tenant_apps/tasks/services.py) keeps these locks from deadlocking with project
trash or member removal.

The functions name their tables without a schema (the same SQL serves every organization, and
a spare schema renamed on onboarding keeps working), and point the search path at the written
table's schema while they run: a write made with another schema first in the path (an
operator's `UPDATE org_x.tasks_task ...`) still counts into its own organization's tables.

Applying it takes a SHARE ROW EXCLUSIVE lock on both tables (writes wait, reads go on) while
the counts of the existing rows are computed: a few seconds at a million tasks.
"""

from django.db import migrations, models


def _function(name: str, body: str) -> str:
    """A trigger function counting into the written table's own schema, whatever the caller's
    search path (an operator's `UPDATE org_x.tasks_task ...` from another schema included):
    it points the path there for its own statements and puts the caller's back after."""
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    caller_path text := current_setting('search_path');
BEGIN
    PERFORM set_config('search_path', quote_ident(TG_TABLE_SCHEMA), true);
{body}
    PERFORM set_config('search_path', caller_path, true);
    RETURN NULL;
END $$;
"""


# "Live": not in the trash. "Open": live and not DONE.
FUNCTIONS = "".join(
    [
        _function(
            "tasks_dashboard_tasks_inserted",
            """
    INSERT INTO tasks_dashboard_count (project_id, status, priority, n)
    SELECT project_id, status, priority, count(*) FROM new_rows
    WHERE deleted_at IS NULL GROUP BY 1, 2, 3;
    INSERT INTO tasks_dashboard_due (project_id, due_date, n)
    SELECT project_id, due_date, count(*) FROM new_rows
    WHERE deleted_at IS NULL AND status <> 'DONE' AND due_date IS NOT NULL GROUP BY 1, 2;
    -- Assignments can precede their task within a transaction (deferred foreign key).
    INSERT INTO tasks_dashboard_assignee (user_id, project_id, n)
    SELECT a.user_id, t.project_id, count(*)
    FROM new_rows t JOIN tasks_task_assignees a ON a.task_id = t.id
    WHERE t.deleted_at IS NULL AND t.status <> 'DONE' GROUP BY 1, 2;
""",
        ),
        _function(
            "tasks_dashboard_tasks_updated",
            """
    INSERT INTO tasks_dashboard_count (project_id, status, priority, n)
    SELECT project_id, status, priority, sum(n) FROM (
        SELECT project_id, status, priority, -1 AS n FROM old_rows WHERE deleted_at IS NULL
        UNION ALL
        SELECT project_id, status, priority, 1 FROM new_rows WHERE deleted_at IS NULL
    ) AS changes GROUP BY 1, 2, 3 HAVING sum(n) <> 0;
    INSERT INTO tasks_dashboard_due (project_id, due_date, n)
    SELECT project_id, due_date, sum(n) FROM (
        SELECT project_id, due_date, -1 AS n FROM old_rows
        WHERE deleted_at IS NULL AND status <> 'DONE' AND due_date IS NOT NULL
        UNION ALL
        SELECT project_id, due_date, 1 FROM new_rows
        WHERE deleted_at IS NULL AND status <> 'DONE' AND due_date IS NOT NULL
    ) AS changes GROUP BY 1, 2 HAVING sum(n) <> 0;
    INSERT INTO tasks_dashboard_assignee (user_id, project_id, n)
    SELECT a.user_id, changes.project_id, sum(changes.n) FROM (
        SELECT id, project_id, -1 AS n FROM old_rows WHERE deleted_at IS NULL AND status <> 'DONE'
        UNION ALL
        SELECT id, project_id, 1 FROM new_rows WHERE deleted_at IS NULL AND status <> 'DONE'
    ) AS changes JOIN tasks_task_assignees a ON a.task_id = changes.id
    GROUP BY 1, 2 HAVING sum(changes.n) <> 0;
""",
        ),
        _function(
            "tasks_dashboard_tasks_deleted",
            """
    INSERT INTO tasks_dashboard_count (project_id, status, priority, n)
    SELECT project_id, status, priority, -count(*) FROM old_rows
    WHERE deleted_at IS NULL GROUP BY 1, 2, 3;
    INSERT INTO tasks_dashboard_due (project_id, due_date, n)
    SELECT project_id, due_date, -count(*) FROM old_rows
    WHERE deleted_at IS NULL AND status <> 'DONE' AND due_date IS NOT NULL GROUP BY 1, 2;
    -- Assignments deleted after their task (deferred foreign key) find no task to count.
    INSERT INTO tasks_dashboard_assignee (user_id, project_id, n)
    SELECT a.user_id, t.project_id, -count(*)
    FROM old_rows t JOIN tasks_task_assignees a ON a.task_id = t.id
    WHERE t.deleted_at IS NULL AND t.status <> 'DONE' GROUP BY 1, 2;
""",
        ),
        _function(
            "tasks_dashboard_tasks_truncated",
            """
    DELETE FROM tasks_dashboard_count;
    DELETE FROM tasks_dashboard_due;
    DELETE FROM tasks_dashboard_assignee;
""",
        ),
        _function(
            "tasks_dashboard_assignments_inserted",
            """
    PERFORM 1 FROM tasks_task WHERE id IN (SELECT task_id FROM new_rows) ORDER BY id FOR SHARE;
    INSERT INTO tasks_dashboard_assignee (user_id, project_id, n)
    SELECT a.user_id, t.project_id, count(*)
    FROM new_rows a JOIN tasks_task t ON t.id = a.task_id
    WHERE t.deleted_at IS NULL AND t.status <> 'DONE' GROUP BY 1, 2;
""",
        ),
        _function(
            "tasks_dashboard_assignments_updated",
            """
    PERFORM 1 FROM tasks_task
    WHERE id IN (SELECT task_id FROM old_rows UNION SELECT task_id FROM new_rows)
    ORDER BY id FOR SHARE;
    INSERT INTO tasks_dashboard_assignee (user_id, project_id, n)
    SELECT changes.user_id, t.project_id, sum(changes.n) FROM (
        SELECT task_id, user_id, -1 AS n FROM old_rows
        UNION ALL
        SELECT task_id, user_id, 1 FROM new_rows
    ) AS changes JOIN tasks_task t ON t.id = changes.task_id
    WHERE t.deleted_at IS NULL AND t.status <> 'DONE'
    GROUP BY 1, 2 HAVING sum(changes.n) <> 0;
""",
        ),
        _function(
            "tasks_dashboard_assignments_deleted",
            """
    PERFORM 1 FROM tasks_task WHERE id IN (SELECT task_id FROM old_rows) ORDER BY id FOR SHARE;
    INSERT INTO tasks_dashboard_assignee (user_id, project_id, n)
    SELECT a.user_id, t.project_id, -count(*)
    FROM old_rows a JOIN tasks_task t ON t.id = a.task_id
    WHERE t.deleted_at IS NULL AND t.status <> 'DONE' GROUP BY 1, 2;
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

# Writes wait until the counts of the rows already there are written, so none is missed or
# counted twice.
LOCK = "LOCK TABLE tasks_task, tasks_task_assignees IN SHARE ROW EXCLUSIVE MODE"

TRIGGERS = """
CREATE TRIGGER tasks_dashboard_tasks_inserted AFTER INSERT ON tasks_task
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_dashboard_tasks_inserted();
CREATE TRIGGER tasks_dashboard_tasks_updated AFTER UPDATE ON tasks_task
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_dashboard_tasks_updated();
CREATE TRIGGER tasks_dashboard_tasks_deleted AFTER DELETE ON tasks_task
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_dashboard_tasks_deleted();
CREATE TRIGGER tasks_dashboard_tasks_truncated AFTER TRUNCATE ON tasks_task
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_dashboard_tasks_truncated();
CREATE TRIGGER tasks_dashboard_assignments_inserted AFTER INSERT ON tasks_task_assignees
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_dashboard_assignments_inserted();
CREATE TRIGGER tasks_dashboard_assignments_updated AFTER UPDATE ON tasks_task_assignees
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_dashboard_assignments_updated();
CREATE TRIGGER tasks_dashboard_assignments_deleted AFTER DELETE ON tasks_task_assignees
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_dashboard_assignments_deleted();
CREATE TRIGGER tasks_dashboard_assignments_truncated AFTER TRUNCATE ON tasks_task_assignees
    FOR EACH STATEMENT EXECUTE FUNCTION tasks_dashboard_assignments_truncated();
"""

# The counts of the rows already there (none in a new organization), as compacted totals.
BACKFILL = """
INSERT INTO tasks_dashboard_count (project_id, status, priority, n, compacted)
SELECT project_id, status, priority, count(*), true FROM tasks_task
WHERE deleted_at IS NULL GROUP BY 1, 2, 3;
INSERT INTO tasks_dashboard_due (project_id, due_date, n, compacted)
SELECT project_id, due_date, count(*), true FROM tasks_task
WHERE deleted_at IS NULL AND status <> 'DONE' AND due_date IS NOT NULL GROUP BY 1, 2;
INSERT INTO tasks_dashboard_assignee (user_id, project_id, n, compacted)
SELECT a.user_id, t.project_id, count(*), true
FROM tasks_task t JOIN tasks_task_assignees a ON a.task_id = t.id
WHERE t.deleted_at IS NULL AND t.status <> 'DONE' GROUP BY 1, 2;
"""

_TRIGGER_NAMES = [
    ("tasks_task", "tasks_dashboard_tasks_inserted"),
    ("tasks_task", "tasks_dashboard_tasks_updated"),
    ("tasks_task", "tasks_dashboard_tasks_deleted"),
    ("tasks_task", "tasks_dashboard_tasks_truncated"),
    ("tasks_task_assignees", "tasks_dashboard_assignments_inserted"),
    ("tasks_task_assignees", "tasks_dashboard_assignments_updated"),
    ("tasks_task_assignees", "tasks_dashboard_assignments_deleted"),
    ("tasks_task_assignees", "tasks_dashboard_assignments_truncated"),
]
DROP = "".join(
    f"DROP TRIGGER {name} ON {table}; DROP FUNCTION {name}();\n" for table, name in _TRIGGER_NAMES
)


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0004_dashboard_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="DashboardCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("project_id", models.BigIntegerField()),
                ("status", models.CharField(max_length=16)),
                ("priority", models.CharField(max_length=8)),
                ("n", models.BigIntegerField()),
                ("compacted", models.BooleanField(db_default=False)),
            ],
            options={
                "db_table": "tasks_dashboard_count",
                "indexes": [
                    models.Index(fields=["project_id"], name="tasks_dash_count_project"),
                    models.Index(
                        condition=models.Q(("compacted", False)),
                        fields=["id"],
                        name="tasks_dash_count_new",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="DashboardDue",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("project_id", models.BigIntegerField()),
                ("due_date", models.DateField()),
                ("n", models.BigIntegerField()),
                ("compacted", models.BooleanField(db_default=False)),
            ],
            options={
                "db_table": "tasks_dashboard_due",
                "indexes": [
                    models.Index(fields=["project_id", "due_date"], name="tasks_dash_due_project"),
                    models.Index(
                        condition=models.Q(("compacted", False)),
                        fields=["id"],
                        name="tasks_dash_due_new",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="DashboardAssignee",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("user_id", models.BigIntegerField()),
                ("project_id", models.BigIntegerField()),
                ("n", models.BigIntegerField()),
                ("compacted", models.BooleanField(db_default=False)),
            ],
            options={
                "db_table": "tasks_dashboard_assignee",
                "indexes": [
                    models.Index(
                        fields=["project_id", "user_id"], name="tasks_dash_assignee_project"
                    ),
                    models.Index(
                        condition=models.Q(("compacted", False)),
                        fields=["id"],
                        name="tasks_dash_assignee_new",
                    ),
                ],
            },
        ),
        # The grouped scan and the merge join these served are replaced by the counts.
        migrations.RemoveIndex(model_name="task", name="tasks_dashboard"),
        migrations.RemoveIndex(model_name="task", name="tasks_open"),
        migrations.RunSQL(FUNCTIONS, reverse_sql=migrations.RunSQL.noop),
        migrations.RunSQL(
            [LOCK, TRIGGERS, BACKFILL],
            reverse_sql=DROP,
        ),
    ]
