"""The dashboard's trigger functions: one copy in `public` for every organization.

0005 and 0007 gave each schema its own copy of the nine functions behind the running counts.
PostgreSQL looks a function up by name across every schema (the catalogue cache keeps one
list per name), so with 10,000 organizations a new session's first `CREATE TRIGGER ...
EXECUTE FUNCTION tasks_dashboard_tasks_inserted()` read 10,000 entries: 41 to 92 ms per name,
nine names per spare schema built (docs/SCALING.md). The functions already point the search
path at the written table's own schema while they run (0005), so one copy serves every
organization unchanged.

In each schema this migration:
* creates the public copy from the schema's own function when `public` lacks it (the first
  organization migrated creates it; an advisory lock makes concurrent migrations wait for
  that one, then find it) - the body is the schema's own, so nothing is restated here;
* points each trigger at the public copy (CREATE OR REPLACE TRIGGER: one statement, no
  moment without the trigger) and drops the schema's own copy.
No schema is named: recorded once, the migration replays into any spare (schema_pool).

Going back restores a copy in the schema (from the public one) and points the triggers at it;
the public copies stay for the organizations that still use them.
"""

from django.db import migrations

# (table, trigger and function name, event, transition tables)
TRIGGERS = [
    ("tasks_task", "tasks_dashboard_tasks_inserted", "INSERT", "NEW TABLE AS new_rows"),
    (
        "tasks_task",
        "tasks_dashboard_tasks_updated",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    ),
    ("tasks_task", "tasks_dashboard_tasks_deleted", "DELETE", "OLD TABLE AS old_rows"),
    ("tasks_task", "tasks_dashboard_tasks_truncated", "TRUNCATE", ""),
    (
        "tasks_task_assignees",
        "tasks_dashboard_assignments_inserted",
        "INSERT",
        "NEW TABLE AS new_rows",
    ),
    (
        "tasks_task_assignees",
        "tasks_dashboard_assignments_updated",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    ),
    (
        "tasks_task_assignees",
        "tasks_dashboard_assignments_deleted",
        "DELETE",
        "OLD TABLE AS old_rows",
    ),
    ("tasks_task_assignees", "tasks_dashboard_assignments_truncated", "TRUNCATE", ""),
    (
        "tasks_dashboard_assignee",
        "tasks_dashboard_assignee_counted",
        "INSERT",
        "NEW TABLE AS new_rows",
    ),
]
NAMES = ", ".join(f"'{name}'" for _, name, _, _ in TRIGGERS)

# Copy each function the schema has and public lacks. The lock is taken only when a copy is
# missing (the first organization migrated, or concurrent first ones), and held to commit:
# a concurrent migration waits there, then finds the copy instead of failing on a duplicate.
# The checks query pg_proc rather than to_regprocedure(): a query takes a fresh snapshot and
# sees what committed while this one waited; the catalogue cache behind to_regprocedure() is
# not refreshed when an advisory lock is granted.
_PUBLIC_COPY = """EXISTS (
            SELECT FROM pg_proc WHERE proname = own.proname AND proargtypes = ''::oidvector
            AND pronamespace = 'public'::regnamespace)"""


def to_public(names: str) -> str:
    """The DO block copying the functions `names` (a SQL list of literals) of the current
    schema into public, each unless public has it."""
    return f"""
DO $migration$
DECLARE
    own record;
BEGIN
    FOR own IN
        SELECT p.proname, p.prosrc FROM pg_proc p
        WHERE p.pronamespace = current_schema()::regnamespace AND p.proname IN ({names})
        ORDER BY p.proname
    LOOP
        IF NOT {_PUBLIC_COPY} THEN
            PERFORM pg_advisory_xact_lock(hashtext('tasks.0012_shared_dashboard_functions'));
            IF NOT {_PUBLIC_COPY} THEN
                EXECUTE format(
                    'CREATE FUNCTION public.%I() RETURNS trigger LANGUAGE plpgsql AS %L',
                    own.proname, own.prosrc
                );
            END IF;
        END IF;
    END LOOP;
END $migration$;
"""


TO_PUBLIC = to_public(NAMES)

# Back: a copy in the schema of each public function, for its triggers to point at again.
FROM_PUBLIC = f"""
DO $migration$
DECLARE
    shared record;
BEGIN
    FOR shared IN
        SELECT p.proname, p.prosrc FROM pg_proc p
        WHERE p.pronamespace = 'public'::regnamespace AND p.proname IN ({NAMES})
        ORDER BY p.proname
    LOOP
        EXECUTE format(
            'CREATE FUNCTION %I.%I() RETURNS trigger LANGUAGE plpgsql AS %L',
            current_schema(), shared.proname, shared.prosrc
        );
    END LOOP;
END $migration$;
"""


def _triggers(schema: str) -> str:
    """CREATE OR REPLACE TRIGGER for each trigger, executing `schema`'s function (or, with
    "", the first on the search path: the organization's own)."""
    prefix = f"{schema}." if schema else ""
    return "".join(
        f"CREATE OR REPLACE TRIGGER {name} AFTER {event} ON {table}"
        + (f" REFERENCING {transitions}" if transitions else "")
        + f" FOR EACH STATEMENT EXECUTE FUNCTION {prefix}{name}();\n"
        for table, name, event, transitions in TRIGGERS
    )


# Unqualified: the search path starts with the organization's schema, so each name finds the
# schema's own copy (never public's, which the other organizations' triggers depend on).
DROP_OWN = "".join(f"DROP FUNCTION {name}();\n" for _, name, _, _ in TRIGGERS)


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0011_title_search_key"),
    ]

    operations = [
        migrations.RunSQL(
            [TO_PUBLIC, _triggers("public"), DROP_OWN],
            reverse_sql=[FROM_PUBLIC, _triggers("")],
        ),
    ]
