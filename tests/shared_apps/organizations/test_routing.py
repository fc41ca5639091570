"""The request's host picks the organization (schema and URLconf); anything else is a JSON 404."""

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import OperationalError, connections
from django.test import Client

from shared_apps.organizations.models import Organization
from shared_apps.organizations.services import organization_set_active

pytestmark = pytest.mark.django_db

NO_ORGANIZATION = {"detail": "No organization is served at this address."}
# A path no URLconf serves: its 404 tells which URLconf answered without relying on routes.
MISSING_PATH = "/no-such-page/"


def _get(host: str, path: str = MISSING_PATH):
    return Client(HTTP_HOST=host).get(path)


def _urlconf(request) -> str:
    # django-tenants sets request.urlconf for the public site only; others use ROOT_URLCONF.
    return getattr(request, "urlconf", settings.ROOT_URLCONF)


def test_an_organization_subdomain_runs_in_its_schema_with_the_tenant_urlconf(acme):
    response = _get("acme.localhost")

    assert response.wsgi_request.tenant.schema_name == "org_acme"
    assert _urlconf(response.wsgi_request) == "saas.urls_tenants"
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_a_second_organization_subdomain_runs_in_its_own_schema(globex):
    response = _get("globex.localhost")

    assert response.wsgi_request.tenant.schema_name == "org_globex"
    assert _urlconf(response.wsgi_request) == "saas.urls_tenants"


def test_a_host_with_a_port_routes_to_the_same_organization(acme):
    response = _get("acme.localhost:8000")

    assert response.wsgi_request.tenant == acme
    assert _urlconf(response.wsgi_request) == "saas.urls_tenants"


def test_the_host_is_matched_case_insensitively(acme):
    # Host names are case-insensitive (RFC 9110 4.2.3); Django's ALLOWED_HOSTS agrees.
    response = _get("ACME.Localhost")

    assert response.json() == {"detail": "Not found."}
    assert response.wsgi_request.tenant == acme


def test_the_base_host_runs_in_public_with_the_public_urlconf(db):
    response = _get("localhost", "/admin/login/")

    assert response.status_code == 200
    assert response.wsgi_request.tenant.schema_name == "public"
    assert response.wsgi_request.urlconf == "saas.urls_public"


def test_the_admin_is_not_served_on_an_organization_subdomain(acme):
    response = _get("acme.localhost", "/admin/login/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_an_unknown_subdomain_answers_404_json(db):
    response = _get("nope.localhost")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == NO_ORGANIZATION
    assert not hasattr(response.wsgi_request, "tenant")


def test_a_foreign_host_answers_404_json(db):
    response = _get("evil.example.org")

    assert response.status_code == 404
    assert response.json() == NO_ORGANIZATION


def test_a_deactivated_organization_answers_404_until_it_is_reactivated(acme):
    organization_set_active(organization=acme, is_active=False)

    response = _get("acme.localhost")
    assert response.status_code == 404
    assert response.json() == NO_ORGANIZATION
    assert not hasattr(response.wsgi_request, "tenant")

    organization_set_active(organization=acme, is_active=True)

    response = _get("acme.localhost")
    assert response.wsgi_request.tenant.schema_name == "org_acme"
    assert response.json() == {"detail": "Not found."}


def test_deactivating_one_organization_leaves_the_others_online(acme, globex):
    organization_set_active(organization=acme, is_active=False)

    assert _get("globex.localhost").wsgi_request.tenant == globex


def test_the_public_site_cannot_be_deactivated(db):
    public = Organization.objects.get(schema_name="public")

    with pytest.raises(ValidationError, match="The public site cannot be deactivated."):
        organization_set_active(organization=public, is_active=False)

    public.refresh_from_db()
    assert public.is_active
    assert _get("localhost", "/admin/login/").status_code == 200


@pytest.mark.parametrize(
    "host", ["localhost", "acme.localhost", "nope.localhost", "evil.example.org"]
)
def test_the_health_check_answers_on_every_host(db, host):
    response = _get(host, "/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_the_health_check_answers_503_when_the_database_fails(db, monkeypatch):
    def unreachable(self, *args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(type(connections["default"]), "cursor", unreachable)

    response = _get("localhost", "/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "down"}
