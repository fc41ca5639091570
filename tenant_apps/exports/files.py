"""Where export files live: EXPORT_ROOT/<schema name>/<export id>.csv.

Named by the export's id and the schema's name only (a schema name is checked by the
database, an id is a number), never by anything a user typed, so no path ever leaves the
organization's folder."""

from pathlib import Path

from django.conf import settings
from django.db import connection

PARTIAL_SUFFIX = ".part"


def organization_folder() -> Path:
    """The current schema's folder (the schema the Export rows are read from)."""
    return Path(settings.EXPORT_ROOT) / connection.schema_name


def export_path(export_id: int) -> Path:
    """The finished CSV of export `export_id` in the current schema."""
    return organization_folder() / f"{int(export_id)}.csv"


def partial_path(export_id: int, attempt: str = "") -> Path:
    """Where one attempt of the job writes until the file is complete (renamed to
    export_path then); `attempt` keeps two attempts from ever sharing a file."""
    return export_path(export_id).with_name(f"{int(export_id)}.csv.{attempt}{PARTIAL_SUFFIX}")


def export_id_of(path: Path) -> int | None:
    """The export id a file in an organization's folder belongs to (None: not an export's)."""
    stem = path.name.split(".", 1)[0]
    return int(stem) if stem.isdigit() and path.name.startswith(stem + ".csv") else None
