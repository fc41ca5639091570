"""The pool of spare schemas: fully migrated, never-used schemas that onboarding claims by
renaming, so creating an organization never replays migrations.

Modules: `state` (which migrations a current schema has recorded), `recording` (record one
migration, replay it into a new schema), `pool` (build, claim, refill, drop). This module
names spares and lists them; it imports no model, so models.py can use its pattern.
"""

import re
import secrets

from django.db import connection

SPARE_PREFIX = "spare_"
# Organization schemas are `org_<slug>` (slugs.py), so a spare's name can never collide.
SPARE_NAME_PATTERN = r"^spare_[0-9a-f]{12}$"
_spare_re = re.compile(SPARE_NAME_PATTERN.replace("$", r"\Z"))


def is_spare_schema_name(name: str) -> bool:
    """Whether `name` has the shape of a spare schema's name."""
    return bool(_spare_re.match(name))


def new_spare_name() -> str:
    """A fresh spare name (48 random bits: a collision is refused by the database anyway)."""
    return SPARE_PREFIX + secrets.token_hex(6)


def spare_schema_names() -> list[str]:
    """Every spare schema in the database, sorted: what `migrate_schemas` must bring up to
    date besides the organizations' schemas.

    Read from the catalogue rather than the pool table, so a spare whose pool row is gone
    is still migrated rather than left behind. A spare being built by an open refill
    transaction is invisible until it commits, already at the current migration state.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname ~ %s ORDER BY nspname",
            [SPARE_NAME_PATTERN],
        )
        return [row[0] for row in cursor.fetchall()]
