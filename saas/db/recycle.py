"""Close a persistent database connection once it has served CONN_MAX_SCHEMAS organizations.

A PostgreSQL backend keeps every relation and catalogue row it has looked up in its caches
(relcache, catcache) until the connection ends: there is no size limit, only invalidations
drop entries. A web or worker connection that serves many organizations therefore grows by
the cache entries of every schema it touched (61 tables, indexes and sequences each), which
CONN_MAX_AGE bounds only by time. Counting the distinct organizations a connection has
served bounds it by size instead (docs/SCALING.md has the measured growth and cost).

It recycles PostgreSQL backends when DATABASE_URL reaches PostgreSQL directly. Behind
PgBouncer the backend outlives our connection: in session mode our close hands the server
connection, caches and all, back to PgBouncer's pool (a cheap reconnect, nothing gained); in
transaction mode (DATABASE_POOL_MODE=transaction) each server connection serves every client
in turn, so nothing is done at all. There PgBouncer's `server_lifetime` is the bound.
"""

import logging
import threading

from django.conf import settings
from django.db import connections
from django_tenants.utils import get_public_schema_name

from .pooling import SESSION

logger = logging.getLogger(__name__)


class _Served(threading.local):
    """Per thread (Django's connections are per thread) and per alias: the DB-API
    connection being counted (None: not open yet) and the organizations' schemas it has
    served."""

    def __init__(self):
        self.by_alias: dict[str, tuple[object | None, set[str]]] = {}


_served = _Served()


def connection_recycle_if_spent(wrapper, *, limit: int) -> bool:
    """Count the schema `wrapper` (a django-tenants DatabaseWrapper) is on against its open
    connection, and close the connection if it has now served `limit` organizations or
    more (the next query opens a new one, on the same schema); True if it was closed.

    Never inside a transaction (it would be lost); limit <= 0 only counts. The public
    schema is not counted: every connection shares its tables.
    """
    raw = wrapper.connection
    counted = _served.by_alias.get(wrapper.alias)
    if counted is None or (counted[0] is not None and counted[0] is not raw):
        counted = (raw, set())  # another connection than the one counted: a new count
    elif counted[0] is None and raw is not None:
        # Schemas counted before the connection opened (a job starting) are its own.
        counted = (raw, counted[1])
    _served.by_alias[wrapper.alias] = counted
    schema = getattr(wrapper, "schema_name", None)
    if schema and schema != get_public_schema_name():
        counted[1].add(schema)
    if raw is None or limit <= 0 or len(counted[1]) < limit or wrapper.in_atomic_block:
        return False
    logger.debug("Closing connection %s after %d organizations", wrapper.alias, len(counted[1]))
    wrapper.close()
    _served.by_alias.pop(wrapper.alias, None)
    return True


def connections_recycle_if_spent(*, close: bool = True) -> int:
    """connection_recycle_if_spent() for every connection this thread has opened, with
    settings.CONN_MAX_SCHEMAS (session pooling only; `close=False` only counts); how many
    were closed."""
    if settings.DATABASE_POOL_MODE != SESSION or settings.CONN_MAX_SCHEMAS <= 0:
        return 0
    limit = settings.CONN_MAX_SCHEMAS if close else 0
    return sum(
        connection_recycle_if_spent(wrapper, limit=limit)
        for wrapper in connections.all(initialized_only=True)
    )


class RecycleConnectionsMiddleware:
    """After each response, counts the organization it served against the connection, and
    closes the connection once it has served CONN_MAX_SCHEMAS of them. A streamed response
    may still query while its body is sent: its connection is only counted, and closed
    after a later response if need be."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        connections_recycle_if_spent(close=not response.streaming)
        return response
