"""The dashboard's cache: Redis entries keyed by the organization's change version, and the
database's answer whenever Redis is down or slow.

Never stale, by construction rather than by expiry. Every write that can change a figure
bumps the organization's `ChangeCounter` in its own transaction (tenant_apps.activity), so:

* a read takes the current version from PostgreSQL and looks up the entry of that version;
  a write committed before the read has moved the version on, so an older entry is never
  found, whatever Redis still holds;
* on a miss the figures are computed in one REPEATABLE READ snapshot that also reads the
  version, and stored under that version: exactly the state they describe. A figure computed
  while a write commits lands under the version before the write and is never served after
  it. The TTL is only a safety net (for writes made outside the services).

Keys also carry the schema (django_tenants' `make_key`, configured in settings), the schema's
OID (a schema dropped and created again, or restored from a dump, starts its counter afresh
but never gets the same OID), the project filter and "today" in TIME_ZONE, since overdue and
due-soon depend on the date.

A miss adds up the running counts PostgreSQL keeps (tenant_apps.tasks.selectors), a few rows
per project and assignee whatever the number of tasks, and compacts them afterwards once enough
change rows have piled up (tenant_apps.tasks.dashboard_counts).

Redis errors and timeouts never fail a request: the figures come from the database
(`X-Cache: MISS`), a warning is logged, and a process-local circuit breaker skips Redis for
`CACHE_RETRY_SECONDS`, so a dead or black-holed Redis costs one timeout per process and
period instead of one per request. With the socket timeouts of settings (`REDIS_TIMEOUT`,
0.25 s) a request pays at most one of them.
"""

import logging
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from saas.api.outage import CACHE_ERRORS, CircuitBreaker
from tenant_apps.activity.models import ChangeCounter

from .dashboard_counts import COMPACT_AFTER, dashboard_counts_compact
from .selectors import dashboard_figures, dashboard_pending_changes

logger = logging.getLogger(__name__)

breaker = CircuitBreaker(without_cache="answering dashboards from the database")


def _cache_get(key: str):
    if not breaker.allows():
        return None
    try:
        value = cache.get(key)
    except CACHE_ERRORS as error:
        breaker.trip(error)
        return None
    breaker.succeed()
    return value


def _cache_set(key: str, value, timeout: int) -> None:
    if not breaker.allows():
        return
    try:
        cache.set(key, value, timeout)
    except CACHE_ERRORS as error:
        breaker.trip(error)
        return
    breaker.succeed()


@dataclass(frozen=True)
class Version:
    """What an entry is valid for: this incarnation of the schema at this change version."""

    schema_oid: int
    change: int


def current_version() -> Version:
    """The organization's change version (and its schema's OID), in one query.

    Plain SQL: on a cache hit this is the one query the dashboard adds to a request, and the
    ORM would spend longer building it (~0.25 ms) than PostgreSQL answering it (~0.1 ms).
    """
    table = connection.ops.quote_name(ChangeCounter._meta.db_table)  # a model's, not input
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT to_regnamespace(%s)::oid::bigint, version FROM {table} WHERE id = 1",
            [connection.schema_name],
        )
        schema_oid, change = cursor.fetchone()
    return Version(schema_oid=schema_oid, change=change)


def dashboard_key(version: Version, *, project_id: int | None, today: date) -> str:
    """The entry's key (make_key adds the schema name and the KEY_PREFIX)."""
    scope = "all" if project_id is None else f"p{project_id}"
    return f"dashboard:{version.schema_oid}:{version.change}:{scope}:{today.isoformat()}"


@contextmanager
def _snapshot():
    """One REPEATABLE READ, read-only snapshot for every query inside.

    Inside a transaction that has already begun (a caller's, or a test's) this cannot change
    its isolation, and uses it as it is.
    """
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def dashboard_read(
    *, project_id: int | None = None, render: Callable[[dict], dict] = dict
) -> tuple[dict, bool]:
    """The current organization's dashboard, and whether it came from the cache: `(data, hit)`.

    `render` turns the figures (with `generated_at`) into what is stored and returned (the
    API's serializer), so a hit costs no rendering.
    """
    today = timezone.localdate()
    cached = _cache_get(dashboard_key(current_version(), project_id=project_id, today=today))
    if cached is not None:
        return cached, True
    with _snapshot():
        version = current_version()
        figures = dashboard_figures(today=today, project_id=project_id)
        pending = dashboard_pending_changes()
    data = render({**figures, "generated_at": timezone.now()})
    key = dashboard_key(version, project_id=project_id, today=today)
    _cache_set(key, data, settings.DASHBOARD_CACHE_TTL)
    if pending > COMPACT_AFTER:
        _compact(today)
    return data, False


def _compact(today: date) -> None:
    """Fold the running counts' change rows (tenant_apps.tasks.dashboard_counts); a failure
    costs only the folding, which the next uncached read tries again."""
    try:
        dashboard_counts_compact(today=today)
    except DatabaseError:
        logger.exception("Could not compact the dashboard counts of %s", connection.schema_name)
