"""The host -> organization lookup, remembered per process for TENANT_CACHE_SECONDS: no query
on the next request, cleared at once by a change saved in this process, and stale at most
TENANT_CACHE_SECONDS for a change made elsewhere (another process: a queryset update here)."""

import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from shared_apps.organizations.models import Domain, Organization
from shared_apps.organizations.services import organization_set_active
from tests.factories import make_user

pytestmark = pytest.mark.django_db

NO_ORGANIZATION = {"detail": "No organization is served at this address."}


def _get(host: str):
    return Client(HTTP_HOST=host).get("/no-such-page/")


def _domain_lookups(host: str) -> tuple[object, int]:
    """One request, and how many times it read the domains table."""
    with CaptureQueriesContext(connection) as queries:
        response = _get(host)
    return response, sum("organizations_domain" in q["sql"] for q in queries.captured_queries)


def test_the_next_request_to_a_host_needs_no_lookup(acme):
    first, first_lookups = _domain_lookups("acme.localhost")
    second, second_lookups = _domain_lookups("acme.localhost")

    assert (first_lookups, second_lookups) == (1, 0)
    assert first.wsgi_request.tenant == second.wsgi_request.tenant == acme
    # Each request has its own object: what one request sets on it, no other sees.
    assert first.wsgi_request.tenant is not second.wsgi_request.tenant


def test_an_organization_deactivated_in_this_process_stops_routing_at_once(acme):
    assert _get("acme.localhost").wsgi_request.tenant == acme

    organization_set_active(organization=acme, is_active=False)

    assert _get("acme.localhost").json() == NO_ORGANIZATION


def test_a_renamed_domain_stops_routing_at_once_and_the_new_one_routes(acme):
    assert _get("acme.localhost").wsgi_request.tenant == acme
    domain = Domain.objects.get(tenant=acme, domain="acme.localhost")

    domain.domain = "acme-renamed.localhost"
    domain.save()

    assert _get("acme.localhost").json() == NO_ORGANIZATION
    assert _get("acme-renamed.localhost").wsgi_request.tenant == acme


def test_a_change_made_by_another_process_routes_for_at_most_the_cache_time(acme, settings):
    settings.TENANT_CACHE_SECONDS = 0.3
    assert _get("acme.localhost").wsgi_request.tenant == acme

    # Another process deactivates it: no signal reaches this one.
    Organization.objects.filter(pk=acme.pk).update(is_active=False)

    assert _get("acme.localhost").wsgi_request.tenant == acme  # remembered, for now
    time.sleep(0.35)
    assert _get("acme.localhost").json() == NO_ORGANIZATION


def test_with_no_cache_time_every_request_looks_the_host_up(acme, settings):
    settings.TENANT_CACHE_SECONDS = 0

    lookups = [_domain_lookups("acme.localhost")[1] for _ in range(2)]

    assert lookups == [1, 1]


def test_unknown_and_inactive_hosts_are_not_remembered(acme):
    # A new organization routes from its very first request, even if its host was asked for
    # before it existed; an inactive one routes as soon as it is active again (elsewhere).
    assert _get("latecomer.localhost").json() == NO_ORGANIZATION
    Organization.objects.filter(pk=acme.pk).update(is_active=False)
    assert _get("acme.localhost").json() == NO_ORGANIZATION

    latecomer = Organization.objects.create(
        name="Latecomer", slug="latecomer", schema_name="org_latecomer", created_by=make_user()
    )
    # Deliberately no signal for the reactivation: only a fresh lookup can see it.
    Organization.objects.filter(pk=acme.pk).update(is_active=True)
    Domain.objects.bulk_create([Domain(domain="latecomer.localhost", tenant=latecomer)])

    assert _get("latecomer.localhost").wsgi_request.tenant == latecomer
    assert _get("acme.localhost").wsgi_request.tenant == acme
