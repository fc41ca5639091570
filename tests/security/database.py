"""A fingerprint of whole schemas (row count and checksum of every table), to prove that a
sweep of requests wrote nothing anywhere."""

from django.db import connection


def fingerprint(*schemas: str) -> dict[str, tuple[int, str]]:
    """{"schema.table": (rows, md5 of every row's text, in order)} for every table of the
    schemas, in one query."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY(%s) "
            "ORDER BY schemaname, tablename",
            [list(schemas)],
        )
        tables = cursor.fetchall()
        quote = connection.ops.quote_name
        selects = [
            f"SELECT %s, count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))"
            f" FROM {quote(schema)}.{quote(table)} t"
            for schema, table in tables
        ]
        cursor.execute(
            " UNION ALL ".join(selects), [f"{schema}.{table}" for schema, table in tables]
        )
        return {name: (rows, checksum) for name, rows, checksum in cursor.fetchall()}


def changed_tables(before: dict, after: dict) -> list[str]:
    """The tables whose rows differ between two fingerprints."""
    return sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )
