"""Onboarding accepts only safe subdomains, says why one is refused, and then creates nothing."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django_tenants.utils import schema_exists

from shared_apps.organizations.models import Domain, Membership, Organization, Role
from shared_apps.organizations.services import SLUG_TAKEN, organization_create
from shared_apps.organizations.slugs import schema_name_for
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def _organization_schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(r"SELECT nspname FROM pg_namespace WHERE nspname LIKE 'org\_%%'")
        return {name for (name,) in cursor.fetchall()}


def _footprint() -> tuple:
    """Everything onboarding would create."""
    return (
        Organization.objects.count(),
        Domain.objects.count(),
        Membership.objects.count(),
        _organization_schemas(),
    )


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("public", '"public" is reserved. Choose another subdomain.'),
        ("pg_x", '"pg_x" is reserved. Choose another subdomain.'),
        ("www", '"www" is reserved. Choose another subdomain.'),
        ("Acme", "Use only lowercase letters (a-z), digits and hyphens."),
        ("a;drop", "Use only lowercase letters (a-z), digits and hyphens."),
        ("a", "Use 3 to 40 characters."),
        ("x" * 41, "Use 3 to 40 characters."),
        ("-acme", "Start with a letter."),
        ("1acme", "Start with a letter."),
        ("acme-", "Do not end with a hyphen."),
        ("a--b", "Do not use two hyphens in a row."),
        ("", "Choose a subdomain."),
    ],
)
def test_an_unusable_slug_is_refused_with_a_clear_message_and_nothing_is_created(slug, message):
    admin = make_user()
    before = _footprint()

    with pytest.raises(ValidationError) as excinfo:
        organization_create(name="Rejected Inc", slug=slug, admin=admin)

    assert excinfo.value.message_dict == {"slug": [message]}
    assert _footprint() == before
    assert not Organization.objects.filter(name="Rejected Inc").exists()
    assert not admin.memberships.exists()
    if slug:
        assert not schema_exists("org_" + slug.replace("-", "_"))


def test_a_slug_already_in_use_is_refused_as_taken(acme):
    admin = make_user()
    before = _footprint()

    with pytest.raises(ValidationError) as excinfo:
        organization_create(name="Acme Again", slug="acme", admin=admin)

    assert excinfo.value.message_dict == {"slug": ["This subdomain is already taken."]}
    assert _footprint() == before
    assert Organization.objects.get(slug="acme").name == "Acme Corp"


def test_a_slug_whose_schema_already_exists_is_refused_as_taken(db):
    # A leftover schema (e.g. restored from a backup) must never be adopted by a new customer.
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA org_leftover")
    before = _footprint()

    with pytest.raises(ValidationError) as excinfo:
        organization_create(name="Leftover", slug="leftover", admin=make_user())

    assert excinfo.value.message_dict == {"slug": [SLUG_TAKEN]}
    assert _footprint() == before


@pytest.mark.parametrize("slug", ["abc", "a" + "b-c" * 13], ids=["3-chars", "40-chars"])
def test_slugs_at_both_length_limits_are_accepted(slug):
    admin = make_user()

    organization = organization_create(name="Edge Case Ltd", slug=slug, admin=admin)

    schema_name = "org_" + slug.replace("-", "_")
    assert organization.schema_name == schema_name
    assert schema_exists(schema_name)
    assert Domain.objects.get(tenant=organization).domain == f"{slug}.localhost"
    membership = Membership.objects.get(organization=organization)
    assert (membership.user, membership.role) == (admin, Role.ADMIN)


def test_the_schema_name_is_derived_from_the_slug():
    assert schema_name_for("acme-corp") == "org_acme_corp"
    assert schema_name_for("acme") == "org_acme"


def test_no_schema_name_is_derived_from_an_unusable_slug():
    with pytest.raises(ValidationError):
        schema_name_for("pg_catalog")
