"""django-tenants' PostgreSQL backend made safe behind a transaction pooler
(DATABASE_POOL_MODE=transaction, saas/db/pooling.py): the schema travels inside every
transaction as `SET LOCAL search_path`, never as session state.

Two cases, told apart by libpq's own transaction status:

- Inside a transaction (an atomic block): `SET LOCAL search_path` is sent once, as the
  transaction's first statement, and again only if the schema changes within it. The pooler
  keeps one server connection for the whole transaction, and `SET LOCAL` ends with it.
- Outside one (autocommit: every statement is its own transaction): the statement is sent
  as `SET LOCAL search_path = ...; <statement>` in one message. PostgreSQL runs a
  multi-statement message as one implicit transaction, which the pooler cannot split.

Nothing is ever left on a server connection for the next client, and a statement never
relies on what a previous one left there. psycopg2 sends every statement with the simple
query protocol (no server-side prepared statements), which allows the multi-statement form.
"""

import re

import psycopg2
import psycopg2.extensions
import psycopg2.sql
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql.psycopg_any import is_psycopg3
from django_tenants.postgresql_backend import base as tenants
from django_tenants.utils import quote_schema_name

if is_psycopg3:  # the multi-statement form needs psycopg2's simple query protocol
    raise ImproperlyConfigured(
        "DATABASE_POOL_MODE=transaction needs psycopg2 (requirements.txt pins it); psycopg 3 "
        "sends statements with the extended protocol, which allows one statement per message."
    )

# Statements PostgreSQL refuses inside a transaction block (an implicit one included), and
# explicit transaction control: sent as they are. None of them reads a tenant's tables by an
# unqualified name, except CONCURRENTLY index builds, which migrations run directly against
# PostgreSQL (docs/OPERATIONS.md); through the pooler they fail ("relation does not exist")
# rather than touch another schema.
_NO_TRANSACTION_BLOCK = re.compile(
    r"""\s*(
        VACUUM | ALTER\s+SYSTEM | (CREATE|DROP)\s+(DATABASE|TABLESPACE)
        | (COMMIT|ROLLBACK)\s+PREPARED | (CREATE|ALTER|DROP)\s+SUBSCRIPTION
        | BEGIN | START\s+TRANSACTION | COMMIT | END | ROLLBACK | ABORT | SAVEPOINT | RELEASE
        | (CREATE\s+(UNIQUE\s+)?|DROP\s+)INDEX\s+CONCURRENTLY
        | REINDEX\b[^;]*\b(CONCURRENTLY|SYSTEM|DATABASE)
    )\b""",
    re.IGNORECASE | re.VERBOSE,
)


class SchemaPinnedCursor(psycopg2.extensions.cursor):
    """psycopg2's cursor, sending the schema of `database` (the DatabaseWrapper that made
    it) with each transaction it starts. Cursors Django opens on the raw connection for
    itself (health checks, time zone) have no `database` and send statements unchanged."""

    database = None

    def execute(self, query, vars=None):
        if self.database is not None:
            query = self.database.pin_search_path(self, query, vars)
        return super().execute(query, vars)

    def executemany(self, query, vars_list):
        # psycopg2 sends the (prefixed) statement once per parameter set: each one carries
        # the schema.
        if self.database is not None:
            query = self.database.pin_search_path(self, query, ())
        return super().executemany(query, vars_list)

    def copy_expert(self, sql, file, size=8192):
        self._pin_for_copy()
        return super().copy_expert(sql, file, size)

    def copy_from(self, *args, **kwargs):
        self._pin_for_copy()
        return super().copy_from(*args, **kwargs)

    def copy_to(self, *args, **kwargs):
        self._pin_for_copy()
        return super().copy_to(*args, **kwargs)

    def _pin_for_copy(self):
        if self.database is None:
            return
        if self.connection.autocommit:
            # COPY cannot share a message with another statement.
            raise psycopg2.ProgrammingError(
                "COPY behind a transaction pooler must run inside transaction.atomic()."
            )
        self.database.pin_search_path(self, "", None)


class DatabaseWrapper(tenants.DatabaseWrapper):
    """See the module docstring. Selected by settings.py when DATABASE_POOL_MODE=transaction."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The search path `SET LOCAL` gave the transaction in progress (None: not yet).
        self._pinned_search_path: tuple[str, ...] | None = None
        # Server-side cursors outside a transaction are WITH HOLD cursors, session state
        # the pooler would hand to another client: the ORM fetches in chunks instead.
        self.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] = True

    def get_connection_params(self):
        params = super().get_connection_params()
        params["cursor_factory"] = SchemaPinnedCursor
        return params

    def create_cursor(self, name=None):
        cursor = super().create_cursor(name)
        if isinstance(cursor, SchemaPinnedCursor):
            cursor.database = self
        return cursor

    def _handle_search_path(self, cursor=None):
        # django-tenants' session-level `SET search_path` on each new cursor: never here.
        return

    def get_new_connection(self, conn_params):
        self._pinned_search_path = None
        return super().get_new_connection(conn_params)

    def close(self):
        self._pinned_search_path = None
        super().close()

    # A transaction's pin ends with it. Reset at every end rather than trusting libpq's
    # status alone: a cursor Django opens for itself (the health check's SELECT 1 on a
    # connection whose autocommit is off) can begin the next transaction unpinned.
    def _commit(self):
        self._pinned_search_path = None
        return super()._commit()

    def _rollback(self):
        self._pinned_search_path = None
        return super()._rollback()

    def _set_autocommit(self, autocommit):
        self._pinned_search_path = None
        return super()._set_autocommit(autocommit)

    def savepoint_rollback(self, sid):
        try:
            super().savepoint_rollback(sid)
        finally:
            # ROLLBACK TO SAVEPOINT undoes a SET LOCAL sent after the savepoint.
            self._pinned_search_path = None

    def pin_search_path(self, cursor: SchemaPinnedCursor, query, params):
        """The statement to send for `query` on `cursor`, after giving the transaction it
        runs in the current schema (see the module docstring)."""
        paths = tuple(self._get_cursor_search_paths())  # validated schema names
        statement = "SET LOCAL search_path = " + ", ".join(quote_schema_name(p) for p in paths)
        raw = cursor.connection
        if raw.autocommit:
            text = query.as_string(raw) if isinstance(query, psycopg2.sql.Composable) else query
            if isinstance(text, bytes):
                encoding = psycopg2.extensions.encodings[raw.encoding]
                if _NO_TRANSACTION_BLOCK.match(text.decode(encoding, "replace")):
                    return text
                prefix = (statement + "; ").encode(encoding)
                return prefix.replace(b"%", b"%%") + text if params is not None else prefix + text
            if _NO_TRANSACTION_BLOCK.match(text):
                return text
            prefix = statement + "; "
            # With parameters, psycopg2 reads `%` as the start of a placeholder.
            return (prefix.replace("%", "%%") if params is not None else prefix) + text
        status = raw.info.transaction_status
        if status == psycopg2.extensions.TRANSACTION_STATUS_INERROR:
            # Only a rollback can run now (Django's ROLLBACK TO SAVEPOINT among them).
            return query
        if status == psycopg2.extensions.TRANSACTION_STATUS_IDLE or (
            self._pinned_search_path != paths
        ):
            # IDLE with autocommit off: psycopg2 opens a new transaction with this statement.
            psycopg2.extensions.cursor.execute(cursor, statement)
            self._pinned_search_path = paths
        return query
