"""Reads for exports."""

from django.db.models import QuerySet

from shared_apps.accounts.models import User

from .models import Export


def export_list(*, user: User, everyone: bool) -> QuerySet[Export]:
    """The exports `user` may see: their own, or every one of the organization (`everyone`,
    for ADMINs); with the requester loaded."""
    exports = Export.objects.select_related("created_by")
    return exports if everyone else exports.filter(created_by=user)
