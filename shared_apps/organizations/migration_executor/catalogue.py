"""What every schema has applied, read in a few round trips instead of one migrate per schema."""

from dataclasses import dataclass

from django.db import DatabaseError
from django_tenants.utils import quote_schema_name

# Schemas per UNION ALL query. Planning a UNION ALL costs more than linearly in its branches
# (measured at 1,000 schemas: chunks of 25-50 read them in about half the time of chunks of
# 500), and each branch locks its schema's django_migrations until the statement ends, in a
# lock table PostgreSQL sizes at max_locks_per_transaction x max_connections for the server.
CHUNK = 50

# Sorted so that two schemas with the same rows get the same fingerprint.
_FINGERPRINT = (
    "SELECT %s, md5(coalesce(string_agg(app || '.' || name, ',' ORDER BY app, name), ''))"
    " FROM {}.django_migrations"
)


@dataclass(frozen=True)
class SchemaState:
    """One schema as the catalogue sees it: whether it exists, whether it has its own
    django_migrations table, and a fingerprint of that table's rows (None without one)."""

    name: str
    exists: bool
    has_table: bool
    fingerprint: str | None
    error: str = ""


def fingerprint_sql(schema_name: str) -> str:
    """The fingerprint query of one schema (one %s parameter: the schema's name)."""
    return _FINGERPRINT.format(quote_schema_name(schema_name))


def schema_states(connection, schema_names: list[str]) -> dict[str, SchemaState]:
    """The state of each of `schema_names`: one query for which exist and have a
    django_migrations table, then one UNION ALL per CHUNK schemas for the fingerprints."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.name, n.oid IS NOT NULL, c.oid IS NOT NULL"
            " FROM unnest(%s::text[]) AS s(name)"
            " LEFT JOIN pg_namespace n ON n.nspname = s.name"
            " LEFT JOIN pg_class c ON c.relnamespace = n.oid"
            " AND c.relname = 'django_migrations' AND c.relkind IN ('r', 'p')",
            [list(schema_names)],
        )
        found = {name: (exists, has_table) for name, exists, has_table in cursor.fetchall()}
    states = {
        name: SchemaState(name, exists, has_table, None)
        for name, (exists, has_table) in found.items()
        if not has_table
    }
    with_table = [name for name in schema_names if found[name][1]]
    for start in range(0, len(with_table), CHUNK):
        states.update(_fingerprints(connection, with_table[start : start + CHUNK]))
    return states


def _fingerprints(connection, names: list[str]) -> dict[str, SchemaState]:
    sql = " UNION ALL ".join(fingerprint_sql(name) for name in names)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, names)
            rows = cursor.fetchall()
    except DatabaseError:
        # A schema renamed or dropped since the catalogue was read (a spare claimed by
        # onboarding) fails the whole statement: read this chunk one schema at a time.
        if len(names) == 1:
            raise
        states = {}
        for name in names:
            try:
                states.update(_fingerprints(connection, [name]))
            except DatabaseError as exc:
                states[name] = SchemaState(name, False, False, None, error=str(exc).strip())
        return states
    return {name: SchemaState(name, True, True, fingerprint) for name, fingerprint in rows}
