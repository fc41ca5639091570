"""Schemas and organizations that do not match, and putting them right (`manage.py
reconcile_schemas`).

Onboarding is one transaction, so a failure or a killed process leaves nothing behind. What
can still disagree: a schema no organization owns (an organization row deleted by hand or in
the admin, whose schema is kept: `auto_drop_schema` is off; a restore of `public` older than
the schemas; a spare whose pool row was lost), and an organization whose schema is gone (a
schema dropped by hand, a partial restore), whose subdomain would answer 500s.

Decisions: an orphan schema named like ours (`org_*`, `spare_*`) is dropped with --fix; any
other schema is reported and never dropped (a DBA's or a tool's, not ours to judge). An
organization without a schema is deactivated with --fix (its subdomain then answers 404; the
row, its members and its history stay for a person to restore the schema from a backup, or
delete the organization); inactive ones are listed but are no longer a problem.
"""

import re
from dataclasses import dataclass, field

from django.db import connection, transaction
from django_tenants.utils import get_public_schema_name, quote_schema_name

from .models import Organization, SpareSchema
from .schema_pool import is_spare_schema_name
from .schema_pool.pool import spare_drop
from .services.onboarding import _lock_slug, organization_set_active
from .slugs import SCHEMA_NAME_PATTERN, SCHEMA_PREFIX

# PostgreSQL's own schemas (pg_catalog, pg_toast, pg_temp_N, ...) and the SQL standard's.
_SYSTEM_SCHEMA = re.compile(r"^(pg_.*|information_schema)\Z", re.DOTALL)
_ORGANIZATION_SCHEMA = re.compile(SCHEMA_NAME_PATTERN.replace("$", r"\Z"))


@dataclass
class Mismatches:
    """What does not match, each list sorted by name."""

    # Named like an organization's or a spare's schema, owned by no organization nor
    # pool row: dropped by --fix.
    orphan_schemas: list[str] = field(default_factory=list)
    # Any other schema without an organization: reported only.
    unknown_schemas: list[str] = field(default_factory=list)
    # Pool rows whose spare schema does not exist: deleted by --fix.
    spare_rows_without_schema: list[str] = field(default_factory=list)
    # Active organizations whose schema does not exist: deactivated by --fix.
    organizations_without_schema: list[str] = field(default_factory=list)
    # Inactive organizations whose schema does not exist (listed, no longer a problem).
    inactive_without_schema: list[str] = field(default_factory=list)

    @property
    def problems(self) -> int:
        return (
            len(self.orphan_schemas)
            + len(self.unknown_schemas)
            + len(self.spare_rows_without_schema)
            + len(self.organizations_without_schema)
        )


def schema_mismatches() -> Mismatches:
    """Compare the schemas in the database with the organizations and the pool of spares,
    in one snapshot: a schema and its organization committed together (onboarding) are
    seen together or not at all."""
    # Inside a caller's transaction (tests) its snapshot is used as it is.
    own_transaction = not connection.in_atomic_block
    with transaction.atomic():
        with connection.cursor() as cursor:
            if own_transaction:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT nspname FROM pg_namespace")
            schemas = {row[0] for row in cursor.fetchall()}
        organizations = dict(
            Organization.objects.exclude(schema_name=get_public_schema_name()).values_list(
                "schema_name", "is_active"
            )
        )
        spares = set(SpareSchema.objects.values_list("name", flat=True))

    found = Mismatches()
    for schema in sorted(schemas - set(organizations) - spares):
        if schema == get_public_schema_name() or _SYSTEM_SCHEMA.match(schema):
            continue
        if _ORGANIZATION_SCHEMA.match(schema) or is_spare_schema_name(schema):
            found.orphan_schemas.append(schema)
        else:
            found.unknown_schemas.append(schema)
    found.spare_rows_without_schema = sorted(spares - schemas)
    for schema, is_active in sorted(organizations.items()):
        if schema not in schemas:
            if is_active:
                found.organizations_without_schema.append(schema)
            else:
                found.inactive_without_schema.append(schema)
    return found


@dataclass
class Fixed:
    """What `schema_mismatches_fix` changed; what it found changed meanwhile is skipped."""

    dropped_schemas: list[str] = field(default_factory=list)
    deleted_spare_rows: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def schema_mismatches_fix(found: Mismatches) -> Fixed:
    """Drop the orphan schemas and the pool rows without a schema, deactivate the active
    organizations without one. Each change re-checks under the lock its writers take, so an
    onboarding or a claim that committed since `found` was read is never undone."""
    fixed = Fixed()
    for schema in found.orphan_schemas:
        dropped = (
            spare_drop(name=schema)
            if is_spare_schema_name(schema)
            else _organization_schema_drop(schema)
        )
        (fixed.dropped_schemas if dropped else fixed.skipped).append(schema)
    for name in found.spare_rows_without_schema:
        (fixed.deleted_spare_rows if spare_drop(name=name) else fixed.skipped).append(name)
    for schema in found.organizations_without_schema:
        (fixed.deactivated if _deactivate_without_schema(schema) else fixed.skipped).append(schema)
    return fixed


@transaction.atomic
def _organization_schema_drop(schema: str) -> bool:
    """Drop orphan `org_*` schema `schema` unless an organization owns it by now."""
    # Onboarding of the slug holds this lock until it commits the row and the schema.
    _lock_slug(schema.removeprefix(SCHEMA_PREFIX).replace("_", "-"))
    if Organization.objects.filter(schema_name=schema).exists():
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {quote_schema_name(schema)} CASCADE")
    return True


@transaction.atomic
def _deactivate_without_schema(schema: str) -> bool:
    """Deactivate the organization of `schema` if its schema is still missing."""
    organization = (
        Organization.objects.select_for_update().filter(schema_name=schema, is_active=True).first()
    )
    if organization is None:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
        if cursor.fetchone() is not None:
            return False
    organization_set_active(organization=organization, is_active=False)
    return True
