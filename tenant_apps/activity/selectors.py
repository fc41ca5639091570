"""Reads for the activity log and the change counter."""

from django.db.models import QuerySet

from .models import Activity, ChangeCounter, TargetType


def change_version() -> int:
    """The organization's current change version (see ChangeCounter)."""
    return ChangeCounter.objects.values_list("version", flat=True).get(pk=1)


def activity_list() -> QuerySet[Activity]:
    """Every entry of the organization, newest first, with its actor."""
    return Activity.objects.select_related("actor").order_by("-created_at", "-id")


def activity_of(*, target_type: TargetType, target_id: int) -> QuerySet[Activity]:
    """One object's history (a task, a project, a member), newest first, with the actors."""
    return activity_list().filter(target_type=target_type, target_id=target_id)
