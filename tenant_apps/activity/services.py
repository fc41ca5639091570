"""Writes for the activity log: one entry per change, in the change's own transaction."""

from collections.abc import Iterable, Mapping

from django.db import transaction
from django.db.models import F

from shared_apps.accounts.models import User

from .models import Activity, ChangeCounter, TargetType, Verb

LABEL_MAX_LENGTH = Activity._meta.get_field("target_label").max_length


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


@transaction.atomic
def activity_record(
    *,
    actor: User | None,
    verb: Verb,
    target_type: TargetType,
    target_id: int,
    target_label: str,
    project_id: int | None = None,
    changes: Mapping | None = None,
) -> Activity:
    """Record one change in the current organization's schema (call it inside the change's
    transaction, so a rollback leaves no entry)."""
    entry = Activity.objects.create(
        actor=actor,
        verb=verb,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label[:LABEL_MAX_LENGTH],
        project_id=project_id,
        changes=dict(changes or {}),
    )
    change_counter_bump()
    return entry


@transaction.atomic
def activity_record_many(entries: Iterable[Activity]) -> list[Activity]:
    """Record several unsaved entries at once (e.g. every unassignment of a removed member)."""
    entries = list(entries)
    for entry in entries:
        entry.target_label = entry.target_label[:LABEL_MAX_LENGTH]
    created = Activity.objects.bulk_create(entries)
    if created:
        change_counter_bump()
    return created
