"""Writes to the pool of spare schemas: build one (by replaying a recorded migration), claim
one for a new organization, refill the pool, drop spares left behind by a new migration."""

import logging
import time
import zlib
from contextlib import contextmanager
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django_tenants.utils import quote_schema_name

from ..models import SchemaRecording, SpareSchema
from . import is_spare_schema_name, new_spare_name, spare_schema_names
from .recording import NotReplayable, migrate_and_record, replay
from .state import (
    OWNED_BY_SCHEMA,
    migration_state,
    recorded_migrations,
    schema_fingerprint,
    schema_oid,
)

logger = logging.getLogger(__name__)

# One refill at a time per database (beat, the post-claim nudge, the command).
_REFILL_LOCK = zlib.crc32(b"organizations-schema-pool-refill")
# Stale spares skipped per claim before falling back: a refill drops them soon anyway.
CLAIM_ATTEMPTS = 3


class Recording(NamedTuple):
    """A recorded migration and the fingerprint of the schema it was recorded from."""

    statements: list[str]
    fingerprint: str


class ReplayMismatch(DatabaseError):
    """A replayed spare differs from the schema its recording was made from."""


# The recorded migration for each key, once read or made in this process.
_recordings: dict[str, Recording] = {}
# Keys whose replay came out different: this process migrates each of their spares.
_unreplayable: set[str] = set()


def spare_claim(*, schema_name: str) -> str | None:
    """Rename a current spare to `schema_name` inside the caller's transaction; return the
    spare's former name, or None if no current spare is free (the caller then creates the
    schema the slow way).

    FOR UPDATE SKIP LOCKED: two onboardings never take the same spare, and neither waits
    for the other. The pool row is deleted in the same transaction, so a rollback puts the
    spare back exactly as it was, and a claimed spare (now named after its organization)
    can never be handed out again. A spare not at the current migration state (built by
    older code, or missed by a migration) is skipped, never claimed.
    """
    expected = migration_state().migrations
    skipped: list[int] = []
    for _ in range(CLAIM_ATTEMPTS):
        spare = (
            SpareSchema.objects.select_for_update(skip_locked=True)
            .exclude(pk__in=skipped)
            .order_by("id")
            .first()
        )
        if spare is None:
            return None
        if recorded_migrations(spare.name) != expected:
            logger.info("Spare schema %s is not at the current migration state", spare.name)
            skipped.append(spare.pk)
            continue
        with connection.cursor() as cursor:
            cursor.execute(
                f"ALTER SCHEMA {quote_schema_name(spare.name)} "
                f"RENAME TO {quote_schema_name(schema_name)}"
            )
        spare.delete()
        return spare.name
    return None


def spare_create() -> str:
    """Build one spare at the current migration state and add it to the pool (committed on
    its own); return its name.

    The first spare of a migration state is migrated by django-tenants' own command while
    its statements are recorded; every later one replays that recording and must come out
    with the very fingerprint (every table, column, default, index, constraint, trigger,
    function and sequence) of the schema it was recorded from. A replay that fails is
    retried the slow way, recording afresh; one that differs makes this process migrate
    every spare of this state. Either way a spare joins the pool only with exactly the
    current migrations recorded.
    """
    state = migration_state()
    recording = None if state.key in _unreplayable else _recording(state.key)
    if recording is not None:
        try:
            return _spare_build(state, recording)
        except ReplayMismatch:
            logger.exception("A replayed spare differs from the migrated one; migrating instead")
            _unreplayable.add(state.key)
        except DatabaseError:
            logger.exception("Replaying the recorded migration failed; migrating instead")
        _recordings.pop(state.key, None)
        SchemaRecording.objects.filter(migration_key=state.key).delete()
    return _spare_build(state, None)


@transaction.atomic
def _spare_build(state, recording: Recording | None) -> str:
    name = new_spare_name()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {quote_schema_name(name)}")
    if recording is not None:
        replay(name, recording.statements)
        if schema_fingerprint(name) != recording.fingerprint:
            raise ReplayMismatch(f"Spare schema {name} differs from the recorded one")
    else:
        try:
            statements = migrate_and_record(name)
        except NotReplayable as exc:
            logger.warning("Spare schemas cannot be replayed, each one is migrated: %s", exc)
            _unreplayable.add(state.key)
        else:
            if state.key not in _unreplayable:
                _recording_store(state, name, statements)
    recorded = recorded_migrations(name)
    if recorded != state.migrations:
        raise DatabaseError(
            f"Spare schema {name} recorded {len(recorded or ())} migrations, "
            f"not the {len(state.migrations)} expected"
        )
    schema_analyze(name)
    SpareSchema.objects.create(name=name)
    return name


def schema_analyze(name: str) -> None:
    """ANALYZE the tables of new schema `name` while they are empty.

    A table never analyzed is planned as ten pages of rows whatever it holds, and
    autovacuum analyzes a table only after 50 changed rows: a small organization's tables
    would keep that guess for good, and a join of them with the users table, which grows
    with the organizations, then reads every user (a hash join: 1.7 ms against 0.14 ms at
    10,020 users, an activity page of 41 entries). Analyzed empty, a table is planned by its
    real pages. Tables found through pg_depend, not a scan of pg_class (see state.py).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.oid::regclass::text FROM ({OWNED_BY_SCHEMA}) owned"
            " JOIN pg_class c ON c.oid = owned.objid"
            " WHERE owned.classid = 'pg_class'::regclass AND c.relkind = 'r'",
            {"oid": schema_oid(name)},
        )
        tables = [row[0] for row in cursor.fetchall()]
        if tables:
            cursor.execute(f"ANALYZE {', '.join(tables)}")


def _recording(key: str) -> Recording | None:
    if key not in _recordings:
        row = SchemaRecording.objects.filter(migration_key=key).first()
        if row is None:
            return None
        _recordings[key] = Recording(row.statements, row.fingerprint)
    return _recordings[key]


def _recording_store(state, name: str, statements: list[str]) -> None:
    """Keep the recording, with the fingerprint of the schema it was made from (in public,
    for every process), if that schema recorded the current migrations; recordings of other
    states are no longer of use."""
    if recorded_migrations(name) != state.migrations:
        return
    recording = Recording(statements, schema_fingerprint(name))
    try:
        with transaction.atomic():
            SchemaRecording.objects.exclude(migration_key=state.key).delete()
            SchemaRecording.objects.create(
                migration_key=state.key,
                statements=recording.statements,
                fingerprint=recording.fingerprint,
                migrations=sorted(state.migrations),
            )
    except IntegrityError:
        pass  # another process recorded this state meanwhile: the same statements
    _recordings[state.key] = recording


def spare_drop(*, name: str) -> bool:
    """Drop spare `name` (schema and pool row) unless a claim or a migration holds its pool
    row right now; True if dropped."""
    if not is_spare_schema_name(name):
        raise ValueError(f"{name!r} is not a spare schema")
    with transaction.atomic():
        free = SpareSchema.objects.select_for_update(skip_locked=True).filter(name=name)
        if not free.exists() and SpareSchema.objects.filter(name=name).exists():
            return False  # held: it may be renamed (claimed) or migrated as we speak
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {quote_schema_name(name)} CASCADE")
        SpareSchema.objects.filter(name=name).delete()
    return True


def spares_drop_stale() -> list[str]:
    """Drop every spare not at the current migration state (a deploy brought new
    migrations that `migrate_schemas` did not apply to it), and spare schemas or pool rows
    that lost their other half; return their names."""
    expected = migration_state().migrations
    pooled = set(SpareSchema.objects.values_list("name", flat=True))
    existing = set(spare_schema_names())
    dropped = []
    for name in sorted(pooled | existing):
        if name in pooled and name in existing and recorded_migrations(name) == expected:
            continue
        if spare_drop(name=name):
            dropped.append(name)
    return dropped


class Refill(NamedTuple):
    """What a refill did; `ran` is False if another refill was already running."""

    ran: bool
    created: list[str]
    dropped: list[str]
    seconds: float


def pool_refill(*, size: int | None = None) -> Refill:
    """Drop stale spares, then build (or drop) spares until the pool holds `size` of them
    (SCHEMA_POOL_SIZE by default). Each spare commits on its own, so a claim waits for
    none of them. Only one refill runs at a time; a second one returns at once."""
    size = settings.SCHEMA_POOL_SIZE if size is None else size
    started = time.perf_counter()
    with _refill_lock() as acquired:
        if not acquired:
            return Refill(False, [], [], time.perf_counter() - started)
        dropped = spares_drop_stale()
        # A pool made smaller (SCHEMA_POOL_SIZE lowered, or --size 0) gives up its newest.
        excess = SpareSchema.objects.order_by("-id").values_list("name", flat=True)
        for name in list(excess[: max(0, SpareSchema.objects.count() - size)]):
            if spare_drop(name=name):
                dropped.append(name)
        created = []
        while SpareSchema.objects.count() < size:
            created.append(spare_create())
    seconds = time.perf_counter() - started
    if created or dropped:
        logger.info(
            "Schema pool: %d built, %d stale dropped in %.2f s", len(created), len(dropped), seconds
        )
    return Refill(True, created, dropped, seconds)


@contextmanager
def _refill_lock():
    """A session-level advisory lock (a refill spans many transactions)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_REFILL_LOCK])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_REFILL_LOCK])
