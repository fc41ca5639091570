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

Each process also keeps the entries it has read from or stored in Redis (a bounded LRU with
the same TTL): the key names an immutable state, so a copy is as fresh as the entry, and a
repeated hit skips the Redis round trip.

Redis errors and timeouts never fail a request: the figures come from the database
(`X-Cache: MISS`), a warning is logged, and a process-local circuit breaker skips Redis for
`CACHE_RETRY_SECONDS`, so a dead or black-holed Redis costs one timeout per process and
period instead of one per request. With the socket timeouts of settings (`REDIS_TIMEOUT`,
0.25 s) a request pays at most one of them.
"""

import logging
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from cachetools import TTLCache
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from saas.api.outage import CACHE_ERRORS, CircuitBreaker
from tenant_apps.activity.models import ChangeCounter
from tenant_apps.projects.models import Project

from .dashboard_counts import COMPACT_AFTER, dashboard_counts_compact
from .selectors import dashboard_figures, dashboard_pending_changes

logger = logging.getLogger(__name__)

breaker = CircuitBreaker(without_cache="answering dashboards from the database")


# Entries this process has read from Redis or stored there, by their full Redis key: a repeated
# hit then costs neither a round trip nor unpickling (~0.7 ms of a ~4 ms cached request here).
# As safe as the Redis entries themselves: a key names one version of one schema's figures,
# which never change. Bounded in entries, and by the same TTL as Redis.
_local = TTLCache(maxsize=settings.DASHBOARD_LOCAL_ENTRIES, ttl=settings.DASHBOARD_CACHE_TTL)
_local_lock = threading.Lock()  # cachetools' caches are not thread-safe


def _remember(full_key: str, value) -> None:
    if _local.maxsize <= 0:  # DASHBOARD_LOCAL_ENTRIES=0: no copies in the process
        return
    with _local_lock:
        _local[full_key] = value


def _cache_get(key: str):
    full_key = cache.make_key(key)
    with _local_lock:
        value = _local.get(full_key)
    if value is not None:
        return value
    if not breaker.allows():
        return None
    try:
        value = cache.get(key)
    except CACHE_ERRORS as error:
        breaker.trip(error)
        return None
    breaker.succeed()
    if value is not None:
        _remember(full_key, value)
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
    _remember(cache.make_key(key), value)  # only what Redis holds: Redis stays the cache


def dashboard_forget(*, project_id: int | None = None) -> None:
    """Drop the current organization's entry for `project_id` at its current version, in Redis
    and in this process, so the next read computes it (benchmarks time such reads)."""
    key = dashboard_key(current_version(), project_id=project_id, today=timezone.localdate())
    cache.delete(key)
    with _local_lock:
        _local.pop(cache.make_key(key), None)


@dataclass(frozen=True)
class Version:
    """What an entry is valid for: this incarnation of the schema at this change version."""

    schema_oid: int
    change: int


class NoSuchProject(LookupError):
    """`?project=` names no live project of this organization."""


def current_version(*, project_id: int | None = None) -> Version:
    """The organization's change version (and its schema's OID), in one query; with
    `project_id`, the same query checks that the project is live (else NoSuchProject).

    Plain SQL: on a cache hit this is the one query the dashboard adds to a request, and the
    ORM would spend longer building it (~0.25 ms) than PostgreSQL answering it (~0.1 ms).
    The project is checked here, before the cache is read, so unknown ids never leave
    entries, and in the same snapshot as the version: deleting a project bumps the version,
    so an entry found under a version at which the project was live is still right.
    """
    counter = connection.ops.quote_name(ChangeCounter._meta.db_table)  # models', not input
    projects = connection.ops.quote_name(Project._meta.db_table)
    live = (
        "TRUE"
        if project_id is None
        else (f"EXISTS (SELECT 1 FROM {projects} WHERE id = %s AND deleted_at IS NULL)")
    )
    params = [connection.schema_name] + ([] if project_id is None else [project_id])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT to_regnamespace(%s)::oid::bigint, version, {live} FROM {counter} WHERE id = 1",
            params,
        )
        schema_oid, change, project_live = cursor.fetchone()
    if not project_live:
        raise NoSuchProject(project_id)
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
    API's serializer), so a hit costs no rendering. Raises NoSuchProject when `project_id`
    is not a live project.
    """
    today = timezone.localdate()
    version = current_version(project_id=project_id)
    cached = _cache_get(dashboard_key(version, project_id=project_id, today=today))
    if cached is not None:
        return cached, True
    with _snapshot():
        version = current_version(project_id=project_id)
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
