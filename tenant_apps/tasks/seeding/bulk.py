"""COPY into the current organization's tables: what to drop and rebuild around a big load,
how foreign keys are checked, ids from the tables' own sequences.

Call these inside `tenant_context`/`schema_context` and one transaction: every name is
qualified with the connection's schema, which django-tenants set.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django.db import DatabaseError, connection, transaction

# Index builds sort in memory up to this (the server's memory, not this process's); the
# bench's raw reference builds its indexes with the same setting.
MAINTENANCE_WORK_MEM = "256MB"
# Below this many rows, row-by-row work (maintaining the indexes, the foreign-key triggers)
# costs less than the fixed cost of the bulk ways (building each index, switching triggers and
# checking keys by anti-joins). Measured on 2 cores, into an empty table: 1,000 rows ~2x faster
# row by row, 5,000 about even, 20,000 ~2x faster in bulk.
BULK_MIN_ROWS = 10_000
COPY_CHUNK_BYTES = 1 << 16


def qualified(table: str) -> str:
    """`"schema"."table"` in the connection's current (tenant) schema."""
    quote = connection.ops.quote_name
    return f"{quote(connection.schema_name)}.{quote(table)}"


@dataclass(frozen=True)
class Ddl:
    """An index or constraint dropped for a load, and the statement that puts it back."""

    name: str
    drop: str
    create: str


def secondary_indexes(table: str) -> list[Ddl]:
    """`table`'s indexes that no constraint owns, unique ones excepted.

    Those are the ones a bulk load can drop and build afterwards: the primary key and unique
    indexes stay (they guard the rows as they arrive; a foreign key can only point at one of
    those), and so does an exclusion constraint's.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.relname, pg_get_indexdef(x.indexrelid)
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            WHERE x.indrelid = %s::regclass
              AND NOT x.indisunique
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                              WHERE c.conrelid = x.indrelid AND c.conindid = x.indexrelid)
            ORDER BY i.relname
            """,
            [qualified(table)],
        )
        rows = cursor.fetchall()
    quote = connection.ops.quote_name
    schema = quote(connection.schema_name)
    return [Ddl(name, f"DROP INDEX {schema}.{quote(name)}", create) for name, create in rows]


def local_foreign_keys(tables: Iterable[str]) -> list[Ddl]:
    """Foreign keys from `tables` to tables of the same schema (a task's project, an
    assignment's task). Dropping one locks only this organization's tables."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
            FROM pg_constraint c JOIN pg_class r ON r.oid = c.confrelid
            WHERE c.contype = 'f' AND c.conrelid = ANY(%s::regclass[])
              AND r.relnamespace = to_regnamespace(%s)
            ORDER BY c.conname
            """,
            [[qualified(table) for table in tables], connection.schema_name],
        )
        rows = cursor.fetchall()
    quote = connection.ops.quote_name
    return [
        Ddl(
            name,
            f"ALTER TABLE {table} DROP CONSTRAINT {quote(name)}",
            f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}",
        )
        for table, name, definition in rows
    ]


@dataclass(frozen=True)
class ForeignKey:
    """One single-column foreign key of a loaded table, for checking loaded rows in bulk."""

    table: str
    name: str
    column: str
    referenced_table: str
    referenced_column: str


def foreign_keys(table: str) -> list[ForeignKey]:
    """Every foreign key of `table` (this schema's and public's targets alike)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.conname, a.attname, c.confrelid::regclass::text, fa.attname
            FROM pg_constraint c
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1]
            WHERE c.contype = 'f' AND c.conrelid = %s::regclass AND cardinality(c.conkey) = 1
            ORDER BY c.conname
            """,
            [qualified(table)],
        )
        rows = cursor.fetchall()
    return [ForeignKey(table, *row) for row in rows]


def referenced_from_elsewhere(tables: Iterable[str]) -> bool:
    """Whether a table outside `tables` has a foreign key to one of them (then they cannot be
    truncated on their own).

    Read from the referenced side's internal triggers (pg_trigger is indexed by table;
    pg_constraint has no index on the referenced table): every trigger a foreign key puts on
    a table is one of these, except the checks of its own keys (RI_FKey_check_*).
    """
    names = [qualified(table) for table in tables]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT EXISTS (
                SELECT 1 FROM pg_trigger
                WHERE tgrelid = ANY(%s::regclass[]) AND tgisinternal AND tgconstrrelid <> 0
                  AND NOT tgconstrrelid = ANY(%s::regclass[])
                  AND tgfoid NOT IN ('pg_catalog."RI_FKey_check_ins"'::regproc,
                                     'pg_catalog."RI_FKey_check_upd"'::regproc)
            )
            """,
            [names, names],
        )
        return cursor.fetchone()[0]


def foreign_key_triggers(tables: Iterable[str]) -> list[tuple[str, str]]:
    """`(table, trigger)` of the triggers that check each inserted row's foreign keys in
    `tables` (PostgreSQL's internal RI_FKey_check_ins triggers); no other trigger."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.tgrelid::regclass::text, t.tgname
            FROM pg_trigger t JOIN pg_constraint c ON c.oid = t.tgconstraint
            WHERE t.tgrelid = ANY(%s::regclass[]) AND t.tgisinternal AND c.contype = 'f'
              AND t.tgfoid = 'pg_catalog."RI_FKey_check_ins"'::regproc
            ORDER BY 1, 2
            """,
            [[qualified(table) for table in tables]],
        )
        return cursor.fetchall()


def _set_triggers(triggers: Iterable[tuple[str, str]], state: str) -> None:
    quote = connection.ops.quote_name
    run_all(f"ALTER TABLE {table} {state} TRIGGER {quote(name)}" for table, name in triggers)


def skip_row_checks(tables: Iterable[str]) -> list[tuple[str, str]] | None:
    """Turn off the per-row foreign-key checks of inserts into `tables` until
    `restore_row_checks` (or the end of the transaction, if it fails: ALTER TABLE is
    transactional); the triggers turned off, or None if the role may not (only superusers
    may disable internal triggers).

    Those checks cost ~5 us a row and a key, more than the COPY itself; the caller checks
    the loaded rows in one anti-join per key instead (`verify_foreign_keys`). Every other
    trigger (the dashboard's running counts) still fires. The lock this takes on each table
    (SHARE ROW EXCLUSIVE) is one the load already holds.
    """
    triggers = foreign_key_triggers(tables)
    try:
        with transaction.atomic():
            _set_triggers(triggers, "DISABLE")
    except DatabaseError:
        return None
    return triggers


def restore_row_checks(triggers: Iterable[tuple[str, str]]) -> None:
    _set_triggers(triggers, "ENABLE")


class ForeignKeyViolation(Exception):
    """Loaded rows name a row that does not exist (the foreign key's name and a sample)."""


def verify_foreign_keys(table: str, where: str, params: list) -> None:
    """Check every foreign key of `table` over the rows `where` selects, in one anti-join
    each, as the per-row triggers would have; raise ForeignKeyViolation on the first miss."""
    quote = connection.ops.quote_name
    for key in foreign_keys(table):
        column = quote(key.column)
        sql = (
            f"SELECT t.{column} FROM {qualified(table)} t WHERE ({where}) "
            f"AND t.{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {key.referenced_table} r "
            f"WHERE r.{quote(key.referenced_column)} = t.{column}) LIMIT 1"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            missing = cursor.fetchone()
        if missing is not None:
            raise ForeignKeyViolation(
                f"{table}.{key.column} = {missing[0]} has no row in {key.referenced_table} "
                f"({key.name})"
            )


def reserve_ids(table: str, count: int) -> int:
    """Take `count` consecutive ids from `table`'s identity sequence; returns the first.

    The caller holds a lock that keeps other inserts out meanwhile (SHARE ROW EXCLUSIVE or
    stronger), so no other nextval() can land inside the block; the sequence then continues
    after it, and a following ORM insert gets the next id.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [qualified(table)])
        sequence = cursor.fetchone()[0]
        cursor.execute("SELECT nextval(%s)", [sequence])
        first = cursor.fetchone()[0]
        if count > 1:
            cursor.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
    return first


class CopySource:
    """A read-only file over a stream of text batches, for psycopg2's `copy_expert`: it calls
    `read(size)` until it gets nothing, so only one batch is ever in memory.

    `on_batch(count)` runs as each batch is handed over (a progress bar).
    """

    def __init__(self, batches: Iterator[tuple[str, int]], on_batch: Callable | None = None):
        self._batches = batches
        self._on_batch = on_batch
        self._buffer = b""
        self._offset = 0

    def read(self, size: int = -1) -> bytes:
        while self._offset >= len(self._buffer):
            batch = next(self._batches, None)
            if batch is None:
                return b""
            text, count = batch
            self._buffer, self._offset = text.encode(), 0
            if self._on_batch is not None:
                self._on_batch(count)
        if size is None or size < 0:
            size = len(self._buffer) - self._offset
        chunk = self._buffer[self._offset : self._offset + size]
        self._offset += len(chunk)
        return chunk

    def readline(self, size: int = -1) -> bytes:  # psycopg2 wants read() or readline()
        return self.read(size)


def copy_in(
    table: str,
    columns: Iterable[str],
    batches: Iterator[tuple[str, int]],
    *,
    freeze: bool = False,
    on_batch: Callable | None = None,
) -> None:
    """Stream `batches` (COPY text) into `table` (a name in this schema, or qualified)."""
    quote = connection.ops.quote_name
    target = table if "." in table else qualified(table)
    sql = f"COPY {target} ({', '.join(quote(column) for column in columns)}) FROM STDIN"
    if freeze:
        # Rows written frozen and all-visible (the table was truncated in this transaction):
        # no later VACUUM has to rewrite every page to set hint bits or the visibility map.
        sql += " WITH (FREEZE)"
    with connection.cursor() as cursor:
        cursor.copy_expert(sql, CopySource(batches, on_batch), COPY_CHUNK_BYTES)


def run_all(statements: Iterable[str]) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def set_maintenance_work_mem() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = %s", [MAINTENANCE_WORK_MEM])
