"""The current migration state of tenant schemas: which migrations a freshly migrated schema
records, and a key that changes whenever the SQL a fresh migration runs could change."""

import functools
import hashlib
import sys
from typing import NamedTuple

import django
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django_tenants.utils import quote_schema_name


class MigrationState(NamedTuple):
    """What a schema migrated from scratch by this code records, and the key of it."""

    key: str
    migrations: frozenset[str]  # "app.name"


@functools.cache
def migration_state() -> MigrationState:
    """The state of the migrations on disk, computed once per process (loading the graph
    takes tens of milliseconds); `forget_migration_state()` after changing them in-process.

    A fresh `migrate` records every migration on disk (tenant schemas record the shared
    apps' too, their operations skipped by the router), and a squashed migration records
    the names it replaces as well. The key also covers each migration's source and the
    versions of Django and PostgreSQL, which decide the SQL a migration runs.
    """
    loader = MigrationLoader(None, ignore_no_migrations=True)
    names = set()
    digest = hashlib.sha256()
    digest.update(f"django {django.__version__} postgresql {connection.pg_version}\n".encode())
    for (app_label, name), migration in sorted(loader.disk_migrations.items()):
        names.add(f"{app_label}.{name}")
        names.update(f"{app}.{replaced}" for app, replaced in migration.replaces)
        digest.update(f"{app_label}.{name}\n".encode())
        digest.update(_source_of(migration))
    return MigrationState(key=digest.hexdigest()[:32], migrations=frozenset(names))


def forget_migration_state() -> None:
    """Compute the state again on next use (after migrations were added in this process)."""
    migration_state.cache_clear()


def _source_of(migration) -> bytes:
    path = getattr(sys.modules[type(migration).__module__], "__file__", None)
    if path is None:
        return b""
    with open(path, "rb") as source:
        return source.read()


def recorded_migrations(schema_name: str) -> frozenset[str] | None:
    """The migrations `schema_name` has recorded ("app.name"); None if it has no migration
    table (or does not exist). Reads the table by its qualified name: no schema switch."""
    table = f"{quote_schema_name(schema_name)}.django_migrations"
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [table])
        if cursor.fetchone()[0] is None:
            return None
        cursor.execute(f"SELECT app, name FROM {table}")
        return frozenset(f"{app}.{name}" for app, name in cursor.fetchall())


def is_current(schema_name: str) -> bool:
    """Whether `schema_name` exists and has recorded exactly the current migrations."""
    return recorded_migrations(schema_name) == migration_state().migrations


# Every object of a schema, by definition, the schema's own name blanked out: one md5.
#
# Found through indexes only, so its cost does not grow with the number of schemas (a scan of
# pg_class, pg_constraint or pg_proc for the namespace took 127 ms at 1,000 organizations):
# tables, sequences, views and functions from their dependency on the namespace (pg_depend's
# reference index), indexes, columns, constraints and triggers from their table.
# The objects that belong to the namespace %(oid)s, by pg_depend's reference index: tables,
# sequences, views and functions (not their indexes, columns, constraints, triggers).
OWNED_BY_SCHEMA = """
    SELECT classid, objid FROM pg_depend
    WHERE refclassid = 'pg_namespace'::regclass AND refobjid = %(oid)s AND refobjsubid = 0
      AND deptype = 'n'
"""

_FINGERPRINT = f"""
WITH owned AS MATERIALIZED ({OWNED_BY_SCHEMA}), relations AS MATERIALIZED (
    SELECT c.oid, c.relname, c.relkind, c.relpersistence FROM pg_class c
    WHERE c.oid IN (SELECT objid FROM owned WHERE classid = 'pg_class'::regclass)
      AND c.relnamespace = %(oid)s
  UNION ALL
    SELECT c.oid, c.relname, c.relkind, c.relpersistence
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid IN (SELECT objid FROM owned WHERE classid = 'pg_class'::regclass)
      AND c.relnamespace = %(oid)s
), objects(kind, definition) AS (
    SELECT 'relation', concat_ws(':', c.relname, c.relkind, c.relpersistence)
    FROM relations c
  UNION ALL
    SELECT 'column', concat_ws(':', c.relname, a.attname, a.attnum,
        format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity, a.attgenerated,
        coalesce(pg_get_expr(d.adbin, d.adrelid), '-'))
    FROM relations c
    JOIN pg_attribute a ON a.attrelid = c.oid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
    SELECT 'index', pg_get_indexdef(c.oid) FROM relations c WHERE c.relkind IN ('i', 'I')
  UNION ALL
    SELECT 'constraint', concat_ws(':', con.conname, pg_get_constraintdef(con.oid),
        con.condeferrable, con.condeferred, con.convalidated)
    FROM relations c JOIN pg_constraint con ON con.conrelid = c.oid
  UNION ALL
    SELECT 'trigger', pg_get_triggerdef(t.oid)
    FROM relations c JOIN pg_trigger t ON t.tgrelid = c.oid
    WHERE NOT t.tgisinternal
  UNION ALL
    SELECT 'function', pg_get_functiondef(p.oid)
    FROM pg_proc p
    WHERE p.oid IN (SELECT objid FROM owned WHERE classid = 'pg_proc'::regclass)
      AND p.prokind IN ('f', 'p')
  UNION ALL
    SELECT 'sequence', concat_ws(':', c.relname,
        coalesce(pg_sequence_last_value(c.oid)::text, 'fresh'))
    FROM relations c WHERE c.relkind = 'S'
)
SELECT md5(string_agg(kind || ' ' || replace(definition, %(name)s, '<schema>'), E'\\n'
                      ORDER BY kind, definition))
FROM objects
"""


def schema_fingerprint(schema_name: str) -> str:
    """One hash of everything `schema_name` defines (tables, columns with types, defaults
    and nullability, indexes, constraints, triggers, functions, sequence positions), equal
    for two schemas that differ only by name."""
    with connection.cursor() as cursor:
        cursor.execute(_FINGERPRINT, {"oid": schema_oid(schema_name), "name": schema_name})
        return cursor.fetchone()[0]


def schema_oid(schema_name: str) -> int:
    """The OID of existing schema `schema_name`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [schema_name])
        return cursor.fetchone()[0]
