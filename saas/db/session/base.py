"""django-tenants' PostgreSQL backend, without its `SET search_path` round trip when the
connection already has the schema the request needs (DATABASE_POOL_MODE=session).

django-tenants forgets the search path it set whenever a tenant is selected (`set_tenant`, so
at every request) and sends `SET search_path` again on the next cursor: one more round trip
per request (~0.2 ms here, a twentieth of a cached dashboard request), even when the
connection serves the same organization as before, which a persistent connection usually does.

Its backend already knows exactly what the server has: it forgets the path whenever the server
may have dropped it (a rollback, a rollback to a savepoint, a failed `SET`, a closed
connection; `SET` is transactional in PostgreSQL). So selecting a tenant keeps that knowledge
when the new search path is the same one, and nothing else changes: any other path, or any
doubt, is a `SET` on the next cursor as before. Behind a transaction pooler the session is not
the client's own and `saas.db` (DATABASE_POOL_MODE=transaction) pins the path per transaction.
"""

from django_tenants.postgresql_backend import base as tenants


class DatabaseWrapper(tenants.DatabaseWrapper):
    """See the module docstring. Selected by settings.py when DATABASE_POOL_MODE=session."""

    def __init__(self, *args, **kwargs):
        # The search path the server has for this session (None: unknown). django-tenants'
        # own `search_path_set_schemas` is cleared by every tenant selection; this is not.
        self._server_search_path: list[str] | None = None
        super().__init__(*args, **kwargs)

    def set_tenant(self, tenant, include_public=True):
        super().set_tenant(tenant, include_public)
        server = getattr(self, "_server_search_path", None)  # None during __init__
        if server is not None and server == self._get_cursor_search_paths():
            self.search_path_set_schemas = server

    def _handle_search_path(self, cursor=None):
        super()._handle_search_path(cursor)
        # Set by a SET that succeeded (or already known); None after a failed one.
        if not self._setting_search_path:
            self._server_search_path = self.search_path_set_schemas

    def _forget_server_search_path(self) -> None:
        self._server_search_path = None
        self.search_path_set_schemas = None

    def get_new_connection(self, conn_params):
        self._forget_server_search_path()  # a new session has the server's default
        return super().get_new_connection(conn_params)

    def close(self):
        self._forget_server_search_path()
        super().close()

    # SET is transactional in PostgreSQL: a rollback, or a rollback to a savepoint, may
    # have undone the last one.
    def _rollback(self):
        self._forget_server_search_path()
        return super()._rollback()

    def savepoint_rollback(self, sid):
        try:
            super().savepoint_rollback(sid)
        finally:
            self._forget_server_search_path()
