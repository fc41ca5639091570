"""shared_apps/organizations/authentication.py: on an organization's host the user's role comes
with the token in one query, and is exactly what a separate membership lookup would say."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shared_apps.organizations.models import Membership, Role
from tests.factories import client_for, make_user

pytestmark = pytest.mark.django_db

TASKS_URL = "/api/tasks/"


def _queries(client, path):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    return response, [query["sql"] for query in captured.captured_queries]


def test_a_member_request_reads_token_user_and_role_in_one_query(acme, acme_member):
    client = client_for(acme_member, acme)

    response, sql = _queries(client, TASKS_URL)

    assert response.status_code == 200
    assert len([q for q in sql if "organizations_membership" in q]) == 1
    (token_query,) = [q for q in sql if "knox_authtoken" in q]
    assert "organizations_membership" in token_query
    assert "accounts_user" in token_query


def test_a_user_of_another_organization_is_refused_without_another_query(acme, globex):
    outsider = make_user(email="outsider@globex.example.com")
    Membership.objects.create(user=outsider, organization=globex, role=Role.ADMIN)
    client = client_for(outsider, acme)

    response, sql = _queries(client, TASKS_URL)

    assert response.status_code == 403
    assert response.json() == {"detail": "You are not a member of this organization."}
    assert len([q for q in sql if "organizations_membership" in q]) == 1


def test_the_role_is_read_afresh_on_every_request(acme, acme_member):
    client = client_for(acme_member, acme)
    assert client.get("/api/tasks/?deleted=true").status_code == 403  # trash: managers only

    Membership.objects.filter(user=acme_member, organization=acme).update(role=Role.MANAGER)
    assert client.get("/api/tasks/?deleted=true").status_code == 200

    Membership.objects.filter(user=acme_member, organization=acme).delete()
    assert client.get(TASKS_URL).status_code == 403


def test_the_base_domain_joins_no_membership(acme_member):
    response, sql = _queries(client_for(acme_member), "/api/auth/me/")

    assert response.status_code == 200
    (token_query,) = [q for q in sql if "knox_authtoken" in q]
    assert "organizations_membership" not in token_query


def test_a_session_on_an_organization_host_still_reads_the_role(acme, acme_admin, client):
    # Staff browse the API with the admin's session: no token, so the role is looked up alone.
    client.force_login(acme_admin)

    response = client.get(TASKS_URL, HTTP_HOST=acme.domain)

    assert response.status_code == 200
