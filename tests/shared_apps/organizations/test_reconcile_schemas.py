"""`manage.py reconcile_schemas`: schemas without an organization and organizations without a
schema, reported (exit status 1) and, with --fix, dropped or deactivated. Each test plants
the mismatch inside its own transaction (PostgreSQL DDL is transactional: rolled back)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_exists

from shared_apps.organizations.models import Organization, SpareSchema
from shared_apps.organizations.reconcile import (
    Mismatches,
    schema_mismatches,
    schema_mismatches_fix,
)
from tests.factories import client_for

pytestmark = pytest.mark.django_db

TRACKED_SPARE = "spare_0123456789ab"
LOST_SPARE = "spare_abcdefabcdef"


def reconcile(*args) -> tuple[int, str]:
    """(exit status, output) of the command."""
    out = StringIO()
    try:
        call_command("reconcile_schemas", *args, stdout=out)
    except CommandError as error:
        return 1, out.getvalue() + str(error)
    return 0, out.getvalue()


def execute(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


def test_a_database_where_everything_matches_passes():
    # public, information_schema, pg_catalog, pg_toast and the organizations' schemas.
    assert reconcile() == (
        0,
        "Every schema has its organization and every organization its schema.\n",
    )


def test_the_schema_of_a_deleted_organization_is_reported_then_dropped(globex):
    globex.delete()  # the row only: organizations keep their schema (auto_drop_schema off)

    status, output = reconcile()
    assert status == 1
    assert "Schema without an organization: org_globex" in output
    assert schema_exists("org_globex")

    status, output = reconcile("--fix")
    assert status == 0
    assert "Dropped schema org_globex" in output
    assert not schema_exists("org_globex")
    assert reconcile()[0] == 0


def test_an_organization_whose_schema_is_gone_is_reported_then_deactivated(globex, acme_admin):
    execute("DROP SCHEMA org_globex CASCADE")

    status, output = reconcile()
    assert status == 1
    assert "Organization without its schema: org_globex" in output

    status, output = reconcile("--fix")
    assert status == 0
    assert "Deactivated the organization of org_globex" in output
    globex.refresh_from_db()
    assert not globex.is_active
    # Its subdomain is "not found" now instead of failing on missing tables.
    assert client_for(acme_admin, globex).get("/api/projects/").status_code == 404
    status, output = reconcile()
    assert status == 0
    assert "Inactive organization without its schema (it serves nothing): org_globex" in output


def test_a_schema_not_named_like_ours_is_reported_and_never_dropped():
    execute("CREATE SCHEMA reporting_scratch")

    for args in ((), ("--fix",)):
        status, output = reconcile(*args)
        assert status == 1
        assert "not named like ours" in output and "reporting_scratch" in output
    assert schema_exists("reporting_scratch")


def test_spares_in_the_pool_are_left_alone_and_lost_halves_are_removed():
    execute(f"CREATE SCHEMA {TRACKED_SPARE}")
    SpareSchema.objects.create(name=TRACKED_SPARE)
    execute(f"CREATE SCHEMA {LOST_SPARE}")  # its pool row is gone
    SpareSchema.objects.create(name="spare_000000000000")  # its schema is gone

    found = schema_mismatches()
    assert found.orphan_schemas == [LOST_SPARE]
    assert found.spare_rows_without_schema == ["spare_000000000000"]

    status, output = reconcile("--fix")
    assert status == 0, output
    assert f"Dropped schema {LOST_SPARE}" in output
    assert "Removed spare_000000000000 from the pool's table" in output
    assert not schema_exists(LOST_SPARE)
    assert schema_exists(TRACKED_SPARE)
    assert list(SpareSchema.objects.values_list("name", flat=True)) == [TRACKED_SPARE]


def test_a_fix_never_drops_a_schema_whose_organization_exists_by_then(acme):
    """What was found may be stale when the fix runs (an onboarding committed meanwhile):
    each drop re-checks under the slug's lock, each deactivation under the row's."""
    stale = Mismatches(orphan_schemas=["org_acme"], organizations_without_schema=["org_acme"])

    fixed = schema_mismatches_fix(stale)

    assert fixed.skipped == ["org_acme", "org_acme"]
    assert fixed.dropped_schemas == fixed.deactivated == []
    assert schema_exists("org_acme")
    assert Organization.objects.get(pk=acme.pk).is_active
