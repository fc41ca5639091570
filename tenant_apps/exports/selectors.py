"""Reads for exports."""

import logging
from typing import BinaryIO

from django.db.models import QuerySet

from shared_apps.accounts.models import User

from .files import export_path
from .models import Export, ExportStatus

logger = logging.getLogger(__name__)


def export_list(*, user: User, everyone: bool) -> QuerySet[Export]:
    """The exports `user` may see: their own, or every one of the organization (`everyone`,
    for ADMINs); with the requester loaded."""
    exports = Export.objects.select_related("created_by")
    return exports if everyone else exports.filter(created_by=user)


def export_file(*, export: Export) -> BinaryIO | None:
    """The finished export's CSV, opened for reading; None when it is not `done`, or done
    but its file is gone (removed by hand, lost with a volume: logged)."""
    if export.status != ExportStatus.DONE:
        return None
    try:
        return export_path(export.pk).open("rb")
    except FileNotFoundError:
        logger.warning("Export %s is done but its file is missing", export.pk)
        return None
