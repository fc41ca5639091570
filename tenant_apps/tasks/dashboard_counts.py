"""Compaction of the dashboard's running counts: their change rows folded into totals.

Triggers append a change row per figure a write changes (models.py, migration 0005), so the
tables grow with every write until compacted. Compacting replaces, in one transaction, every
row it can see by one total per key: the sums, hence the figures, are the same before and
after, and readers in a snapshot see either side. Change rows committed meanwhile are not
seen, not deleted, and stay to be added up (deleting and re-inserting takes no lock a writer
waits for: the triggers only ever insert).

The uncached dashboard compacts after answering once more than COMPACT_AFTER change rows
have piled up (tenant_apps.tasks.cache), so what it adds up stays near one row per key.
"""

import zlib
from datetime import date, timedelta

from django.db import connection, transaction

from .models import DashboardAssignee, DashboardAssigneeTotal, DashboardCount, DashboardDue

# Change rows that make the next uncached dashboard compact (adding up 1,000 rows costs it
# well under a millisecond; compacting them, a few).
COMPACT_AFTER = 1000
# Due dates this long past are folded into one row per project: they are overdue on any day
# after, and no "today" can come back before them (another TIME_ZONE moves it by a day at
# most).
FOLD_PAST_DAYS = 2
# Advisory lock key class: one compaction at a time per schema (its OID completes the key).
_LOCK_CLASS = zlib.crc32(b"tasks-dashboard-compaction") & 0x7FFFFFFF


def _fold(model, columns: list[str], keys: list[str] | None = None) -> str:
    """`DELETE ... RETURNING` every row and insert one compacted total per key: the `columns`
    as they are, or the expressions `keys` of them."""
    table = connection.ops.quote_name(model._meta.db_table)  # a model's, not input
    keys = keys or columns
    return (
        f"WITH gone AS (DELETE FROM {table} RETURNING {', '.join(columns)}, n) "
        f"INSERT INTO {table} ({', '.join(columns)}, n, compacted) "
        f"SELECT {', '.join(keys)}, sum(n), true FROM gone "
        f"GROUP BY {', '.join(keys)} HAVING sum(n) <> 0"
    )


@transaction.atomic
def dashboard_counts_compact(*, today: date) -> bool:
    """Fold the current organization's count rows into one total per key (due dates more
    than FOLD_PAST_DAYS before `today` into one per project). Returns False, having done
    nothing, if another compaction of this organization is running."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock((%s::bigint << 32) + to_regnamespace(%s)::oid::bigint)",
            [_LOCK_CLASS, connection.schema_name],
        )
        if not cursor.fetchone()[0]:
            return False
        cursor.execute(_fold(DashboardCount, ["project_id", "status", "priority"]))
        fold_before = today - timedelta(days=FOLD_PAST_DAYS)
        cursor.execute(
            _fold(
                DashboardDue, ["project_id", "due_date"], ["project_id", "GREATEST(due_date, %s)"]
            ),
            [fold_before, fold_before],
        )
        cursor.execute(_fold(DashboardAssignee, ["user_id", "project_id"]))
        cursor.execute(_fold(DashboardAssigneeTotal, ["user_id"]))
    return True
