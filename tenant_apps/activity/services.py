"""Writes for the activity log: one entry per change, in the change's own transaction.

Record last, after every other lock the write takes: bumping the change counter locks its one
row until the commit, so a transaction holding it must never wait for another lock (a member
removal waiting on a task write's membership lock while holding the counter would deadlock
with that write).
"""

import json
from collections.abc import Iterable, Mapping

from django.db import connection
from django.db.models import F

from shared_apps.accounts.models import User

from .models import Activity, ChangeCounter, TargetType, Verb

LABEL_MAX_LENGTH = Activity._meta.get_field("target_label").max_length
# Long text (descriptions, up to 20,000 characters) appears in diffs cut to this length.
TEXT_MAX_LENGTH = 200


def clip(text: str | None) -> str | None:
    """Text as a diff shows it: at most TEXT_MAX_LENGTH characters, cut ones ending in "…"."""
    if text is None or len(text) <= TEXT_MAX_LENGTH:
        return text
    return text[: TEXT_MAX_LENGTH - 1] + "…"


def user_ref(user: User) -> dict:
    """How a user appears inside `changes` (assignees, members): id and email at the time."""
    return {"id": user.id, "email": user.email}


def _jsonable(value):
    """Dates and other scalars as JSON can carry them (ISO dates, ids)."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value)
    return value


def changes_between(before: Mapping, after: Mapping) -> dict:
    """`{field: [old, new]}` for the fields whose value differs (empty: nothing changed)."""
    return {
        field: [_jsonable(before.get(field)), _jsonable(value)]
        for field, value in after.items()
        if before.get(field) != value
    }


def change_counter_bump() -> None:
    """Move the organization's change version on; readers keyed by it see the write."""
    ChangeCounter.objects.filter(pk=1).update(version=F("version") + 1)


# The columns an entry is written with; `created_at` comes from the column's default.
_COLUMNS = ("actor_id", "verb", "target_type", "target_id", "target_label", "project_id", "changes")


def _insert(entries: list[Activity], *, bump_counter: bool) -> list[Activity]:
    """INSERT the entries and, in the same statement, bump the change counter.

    One statement instead of the ORM's INSERT then UPDATE, and no savepoint: it runs inside
    the change's transaction, whose failure must undo it anyway. It is what keeps a task
    update with its entry within 1.3x of the update alone (see bench.activity_cost); a
    data-modifying WITH runs exactly once, whether or not the INSERT reads it.
    """
    if not entries:
        return entries
    activity = connection.ops.quote_name(Activity._meta.db_table)
    counter = connection.ops.quote_name(ChangeCounter._meta.db_table)
    row = "(" + ", ".join(["%s"] * (len(_COLUMNS) - 1)) + ", %s::jsonb)"
    sql = (
        f"INSERT INTO {activity} ({', '.join(_COLUMNS)}) VALUES "
        + ", ".join([row] * len(entries))
        + " RETURNING id, created_at"
    )
    if bump_counter:
        sql = f"WITH bump AS (UPDATE {counter} SET version = version + 1 WHERE id = 1) " + sql
    params = []
    for entry in entries:
        entry.target_label = entry.target_label[:LABEL_MAX_LENGTH]
        params += [
            entry.actor_id,
            entry.verb,
            entry.target_type,
            entry.target_id,
            entry.target_label,
            entry.project_id,
            json.dumps(entry.changes or {}),
        ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        # RETURNING follows the VALUES order for a single multi-row INSERT.
        for entry, (pk, created_at) in zip(entries, cursor.fetchall(), strict=True):
            entry.pk, entry.created_at = pk, created_at
            entry._state.adding = False
    return entries


def activity_record(
    *,
    actor: User | None,
    verb: Verb,
    target_type: TargetType,
    target_id: int,
    target_label: str,
    project_id: int | None = None,
    changes: Mapping | None = None,
    bump_counter: bool = True,
) -> Activity:
    """Record one change in the current organization's schema (call it inside the change's
    transaction, so a rollback leaves no entry).

    `bump_counter=False` for changes no derived figure depends on (membership events: the
    unassignments a removal makes are recorded, and bump, on their own). They then take no
    lock on the counter row, so their order among the receivers of a membership signal
    cannot matter (see the module's docstring).
    """
    entry = Activity(
        actor=actor,
        verb=verb,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        project_id=project_id,
        changes=dict(changes or {}),
    )
    return _insert([entry], bump_counter=bump_counter)[0]


def activity_record_many(entries: Iterable[Activity]) -> list[Activity]:
    """Record several unsaved entries at once, with one counter bump (nothing to record:
    no write at all)."""
    return _insert(list(entries), bump_counter=True)
