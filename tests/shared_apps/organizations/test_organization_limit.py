"""MAX_ORGS_PER_USER: self-service creation (POST /api/orgs/) stops at the limit with a clear
400, deactivated organizations included, two concurrent requests cannot both pass it; staff
onboarding (admin, create_org) is neither limited nor counted."""

import threading
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_exists
from knox.models import AuthToken

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Domain, Membership, Organization
from shared_apps.organizations.services import (
    TOO_MANY_ORGANIZATIONS,
    organization_onboard,
    organization_set_active,
)
from tests.factories import client_for, make_user, users_delete

ORGS_URL = "/api/orgs/"
ADD_URL = "/admin/organizations/organization/add/"


def _create(client, slug: str):
    return client.post(ORGS_URL, {"name": slug.title(), "slug": slug})


@pytest.mark.django_db
def test_a_user_creates_at_most_max_orgs_per_user_organizations(settings):
    settings.MAX_ORGS_PER_USER = 2
    founder = make_user()
    client = client_for(founder)

    created = [_create(client, "limit-one"), _create(client, "limit-two")]
    refused = _create(client, "limit-three")

    assert [response.status_code for response in created] == [201, 201]
    assert refused.status_code == 400, refused.content
    assert refused.json() == {"detail": TOO_MANY_ORGANIZATIONS.format(limit=2)}
    assert not Organization.objects.filter(slug="limit-three").exists()
    assert not schema_exists("org_limit_three")
    assert set(Organization.objects.filter(created_by=founder).values_list("slug", flat=True)) == {
        "limit-one",
        "limit-two",
    }
    # Another user has an allowance of their own.
    assert _create(client_for(make_user()), "limit-four").status_code == 201


@pytest.mark.django_db
def test_deactivated_organizations_still_count(settings):
    settings.MAX_ORGS_PER_USER = 1
    client = client_for(make_user())
    assert _create(client, "limit-gone").status_code == 201
    organization_set_active(
        organization=Organization.objects.get(slug="limit-gone"), is_active=False
    )

    refused = _create(client, "limit-again")

    assert refused.status_code == 400  # its schema is still there
    assert not Organization.objects.filter(slug="limit-again").exists()


@pytest.mark.django_db
def test_staff_onboarding_is_neither_limited_nor_counted(settings, staff_client):
    settings.MAX_ORGS_PER_USER = 1
    founder = make_user(email="busy.founder@test.example.com")

    organization_onboard(name="Onboard One", slug="onboard-one", admin_email=founder.email)
    admin_form = staff_client.post(
        ADD_URL, {"name": "Onboard Two", "slug": "onboard-two", "admin_email": founder.email}
    )
    call_command(
        "create_org",
        "--name=Onboard Three",
        "--slug=onboard-three",
        f"--admin-email={founder.email}",
        stdout=StringIO(),
    )
    own = _create(client_for(founder), "founder-own")
    another = _create(client_for(founder), "founder-own-two")

    assert admin_form.status_code == 302
    onboarded = Organization.objects.filter(slug__startswith="onboard-")
    assert onboarded.count() == 3
    assert set(onboarded.values_list("created_by", flat=True)) == {None}
    assert Membership.objects.filter(user=founder).count() == 3 + 1
    # The three staff made do not use up the founder's own allowance (1), which still holds.
    assert own.status_code == 201, own.content
    assert another.status_code == 400


def _drop_organization(slug: str) -> None:
    for organization in Organization.objects.filter(slug=slug):
        Membership.objects.filter(organization=organization).delete()
        Domain.objects.filter(tenant=organization).delete()
        connection.set_schema_to_public()
        organization.delete(force_drop=True)


def test_two_concurrent_creations_cannot_both_pass_the_limit(
    settings, django_db_setup, django_db_blocker
):
    # Real commits on separate connections (a rolled-back test transaction could not race);
    # two slugs, so the slug's lock does not serialize them: the creator's lock must.
    settings.MAX_ORGS_PER_USER = 1
    tag = uuid.uuid4().hex[:8]
    slugs = [f"race-a-{tag}", f"race-b-{tag}"]
    with django_db_blocker.unblock():
        founder = make_user(email=f"race-{tag}@test.example.com")
        clients = [client_for(founder), client_for(founder)]
        start = threading.Barrier(len(slugs))
        responses: list = [None] * len(slugs)
        errors: list = []

        def request(index: int) -> None:
            try:
                start.wait(timeout=10)
                responses[index] = _create(clients[index], slugs[index])
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)
            finally:
                connection.close()

        try:
            threads = [threading.Thread(target=request, args=(i,)) for i in range(len(slugs))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)

            assert not errors, errors
            assert not any(thread.is_alive() for thread in threads)
            statuses = sorted(response.status_code for response in responses)
            assert statuses == [201, 400], [response.content for response in responses]
            loser = next(response for response in responses if response.status_code == 400)
            assert loser.json() == {"detail": TOO_MANY_ORGANIZATIONS.format(limit=1)}
            assert Organization.objects.filter(created_by=founder).count() == 1
        finally:
            for slug in slugs:
                _drop_organization(slug)
            AuthToken.objects.filter(user_id=founder.pk).delete()
            users_delete("id = %s", [founder.pk])

        assert not Organization.objects.filter(slug__in=slugs).exists()
        assert not any(schema_exists(f"org_{slug.replace('-', '_')}") for slug in slugs)
        assert not User.objects.filter(email=founder.email).exists()
