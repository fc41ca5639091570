"""Self-service organizations on the public host: POST/GET /api/orgs/, including a race for one slug."""

import threading
import uuid

import pytest
from django.db import connection
from django_tenants.utils import schema_exists
from knox.models import AuthToken

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Domain, Membership, Organization, Role
from shared_apps.organizations.services import organization_set_active
from tests.factories import client_for, make_member, make_user, users_delete

ORGS_URL = "/api/orgs/"


def _assert_nothing_created(slug: str) -> None:
    assert not Organization.objects.filter(slug=slug).exists()
    assert not Domain.objects.filter(domain=f"{slug}.localhost").exists()
    assert not schema_exists(f"org_{slug.replace('-', '_')}")


@pytest.mark.django_db
def test_creating_an_organization_makes_the_caller_its_admin_on_its_own_host():
    founder = make_user()

    response = client_for(founder).post(ORGS_URL, {"name": "  Initech  ", "slug": "initech"})

    assert response.status_code == 201, response.content
    assert response.json() == {
        "slug": "initech",
        "name": "Initech",
        "domain": "initech.localhost",
        "role": "ADMIN",
    }
    organization = Organization.objects.get(slug="initech")
    assert organization.schema_name == "org_initech"
    assert schema_exists("org_initech")
    assert Membership.objects.get(organization=organization).user == founder
    assert Membership.objects.get(organization=organization).role == Role.ADMIN

    on_its_host = client_for(founder, organization)
    projects = on_its_host.get("/api/projects/")
    assert projects.status_code == 200, projects.content
    assert projects.json() == {"next": None, "previous": None, "results": []}
    assert on_its_host.post("/api/projects/", {"name": "Kick-off"}).status_code == 201
    assert client_for(make_user(), organization).get("/api/projects/").status_code == 403


@pytest.mark.django_db
def test_a_hyphenated_slug_gets_an_underscored_schema():
    response = client_for(make_user()).post(ORGS_URL, {"name": "Acme West", "slug": "acme-west"})

    assert response.status_code == 201, response.content
    assert response.json()["domain"] == "acme-west.localhost"
    assert Organization.objects.get(slug="acme-west").schema_name == "org_acme_west"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "slug",
    [
        "Bad Slug",
        "UPPER",
        "ab",
        "x" * 41,
        "1abc",
        "-abc",
        "abc-",
        "a--b",
        "ab_c",
        "abc.def",
        "dé-jà",
        "",
        "admin",
        "www",
        "api",
        "public",
        "pg-catalog",
        "pg_temp",
    ],
)
def test_an_invalid_or_reserved_slug_answers_400_naming_slug(slug):
    organizations_before = Organization.objects.count()

    response = client_for(make_user()).post(ORGS_URL, {"name": "Some Org", "slug": slug})

    assert response.status_code == 400, response.content
    assert set(response.json()) == {"slug"}
    assert Organization.objects.count() == organizations_before
    assert not Domain.objects.filter(domain=f"{slug}.localhost").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("slug", [["initech"], {"slug": "initech"}, None, 123])
def test_a_slug_that_is_not_a_string_answers_400_naming_slug(slug):
    response = client_for(make_user()).post(
        ORGS_URL, {"name": "Typed", "slug": slug}, format="json"
    )

    assert response.status_code == 400, response.content
    assert set(response.json()) == {"slug"}
    _assert_nothing_created("initech")


@pytest.mark.django_db
def test_a_taken_slug_answers_400_naming_slug(acme):
    response = client_for(make_user()).post(ORGS_URL, {"name": "Acme Again", "slug": "acme"})

    assert response.status_code == 400
    assert set(response.json()) == {"slug"}
    assert Organization.objects.filter(slug="acme").count() == 1


@pytest.mark.django_db
def test_a_missing_or_blank_name_answers_400_naming_name():
    client = client_for(make_user())

    assert "name" in client.post(ORGS_URL, {"slug": "nameless"}).json()
    assert "name" in client.post(ORGS_URL, {"slug": "nameless", "name": "   "}).json()
    assert "name" in client.post(ORGS_URL, {"slug": "nameless", "name": "N" * 151}).json()
    _assert_nothing_created("nameless")


@pytest.mark.django_db
def test_anonymous_callers_get_401_and_create_nothing(public_client):
    assert public_client.post(ORGS_URL, {"name": "Ghost", "slug": "ghost"}).status_code == 401
    assert public_client.get(ORGS_URL).status_code == 401
    _assert_nothing_created("ghost")


@pytest.mark.django_db
def test_organizations_are_not_created_from_an_organization_host(acme, acme_admin):
    response = client_for(acme_admin, acme).post(ORGS_URL, {"name": "Nested", "slug": "nested"})

    assert response.status_code == 404
    _assert_nothing_created("nested")


@pytest.mark.django_db
def test_listing_shows_only_the_callers_active_organizations(acme, globex):
    acme_user = make_member(acme, Role.MANAGER)
    globex_user = make_member(globex, Role.MEMBER)
    both = make_member(acme, Role.MEMBER)
    Membership.objects.create(user=both, organization=globex, role=Role.ADMIN)

    assert client_for(acme_user).get(ORGS_URL).json() == [
        {"slug": "acme", "name": "Acme Corp", "domain": "acme.localhost", "role": "MANAGER"},
    ]
    assert client_for(globex_user).get(ORGS_URL).json() == [
        {
            "slug": "globex",
            "name": "Globex Corporation",
            "domain": "globex.localhost",
            "role": "MEMBER",
        },
    ]
    assert [(o["slug"], o["role"]) for o in client_for(both).get(ORGS_URL).json()] == [
        ("acme", "MEMBER"),
        ("globex", "ADMIN"),
    ]
    assert client_for(make_user()).get(ORGS_URL).json() == []

    organization_set_active(organization=globex, is_active=False)
    assert client_for(both).get(ORGS_URL).json()[0]["slug"] == "acme"
    assert len(client_for(both).get(ORGS_URL).json()) == 1


@pytest.mark.django_db
def test_a_new_organization_appears_in_the_creators_list():
    founder = make_user()
    client = client_for(founder)
    client.post(ORGS_URL, {"name": "Listed", "slug": "listed"})

    assert client.get(ORGS_URL).json() == [
        {"slug": "listed", "name": "Listed", "domain": "listed.localhost", "role": "ADMIN"},
    ]


# --- concurrency --------------------------------------------------------------------------


def _drop_organization(slug: str) -> None:
    """Remove a committed organization: row, domain, memberships and schema."""
    for organization in Organization.objects.filter(slug=slug):
        Membership.objects.filter(organization=organization).delete()
        Domain.objects.filter(tenant=organization).delete()
        connection.set_schema_to_public()
        organization.delete(force_drop=True)


def test_two_concurrent_requests_for_one_slug_give_one_201_and_one_400(
    django_db_setup, django_db_blocker
):
    # Real commits on separate connections: a rolled-back test transaction could not race.
    # (A transactional test would flush the session's organizations, hence the blocker.)
    slug = f"race-{uuid.uuid4().hex[:8]}"
    schema = f"org_{slug.replace('-', '_')}"
    with django_db_blocker.unblock():
        founder = make_user(email=f"{slug}@test.example.com")
        clients = [client_for(founder), client_for(founder)]
        start = threading.Barrier(len(clients))
        responses: list = [None] * len(clients)
        errors: list = []

        def request(index: int) -> None:
            try:
                start.wait(timeout=10)
                responses[index] = clients[index].post(ORGS_URL, {"name": "Race Inc", "slug": slug})
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)
            finally:
                connection.close()

        try:
            threads = [threading.Thread(target=request, args=(i,)) for i in range(len(clients))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)

            assert not errors, errors
            assert not any(thread.is_alive() for thread in threads)
            statuses = sorted(response.status_code for response in responses)
            assert statuses == [201, 400], [r.content for r in responses]
            loser = next(response for response in responses if response.status_code == 400)
            assert set(loser.json()) == {"slug"}
            assert Organization.objects.filter(slug=slug).count() == 1
            assert Membership.objects.filter(organization__slug=slug, user=founder).count() == 1
            assert schema_exists(schema)
        finally:
            _drop_organization(slug)
            AuthToken.objects.filter(user_id=founder.pk).delete()
            users_delete("id = %s", [founder.pk])

        assert not Organization.objects.filter(slug=slug).exists()
        assert not Domain.objects.filter(domain=f"{slug}.localhost").exists()
        assert not schema_exists(schema)
        assert not User.objects.filter(email=founder.email).exists()
        assert not AuthToken.objects.filter(user_id=founder.pk).exists()
