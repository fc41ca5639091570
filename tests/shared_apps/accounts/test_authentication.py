"""shared_apps/accounts/authentication.py: every malformed Authorization header is a 401 that says
what is wrong, on any host, and a good Bearer token still works."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken

from tests.factories import client_for, host_of, make_user

pytestmark = pytest.mark.django_db

USE_BEARER = (
    'Send the token as "Authorization: Bearer <token>"; the "Token" prefix is not accepted.'
)


def _get(acme, host: str, authorization: str):
    organization = acme if host == "acme" else None
    path = "/api/tasks/" if organization else "/api/auth/me/"
    client = Client(HTTP_HOST=host_of(organization), HTTP_AUTHORIZATION=authorization)
    return client.get(path)


@pytest.mark.parametrize("host", ["acme", "public"])
@pytest.mark.parametrize("prefix", ["Token", "token", "TOKEN"])
def test_the_token_prefix_is_a_401_saying_to_use_bearer(acme, host, prefix):
    response = _get(acme, host, f"{prefix} 0123456789abcdef")

    assert response.status_code == 401
    assert response.json() == {"detail": USE_BEARER}
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("host", ["acme", "public"])
@pytest.mark.parametrize(
    "token",
    ["\xff\xfe", "\xc3\x28", "abc\x00def", "abc\x7f", "\xe9t\xe9"],
    ids=["not-utf8", "bad-continuation", "nul", "del", "latin-1"],
)
def test_a_token_that_is_not_printable_ascii_is_a_401(acme, host, token):
    response = _get(acme, host, f"Bearer {token}")

    assert response.status_code == 401, response.content
    assert response.json() == {"detail": "Invalid token."}


def test_a_header_outside_latin_1_is_a_401(acme):
    # Only a test client can send this (WSGI headers are Latin-1), but it must not be a 500.
    response = _get(acme, "acme", "Bearer \u20ac")

    assert response.status_code == 401


@pytest.mark.parametrize("host", ["acme", "public"])
def test_a_wrong_but_well_formed_token_is_invalid(acme, host):
    response = _get(acme, host, "Bearer " + "ab" * 32)

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_a_good_bearer_token_still_authenticates(acme, acme_member):
    assert client_for(acme_member, acme).get("/api/tasks/").status_code == 200
    assert client_for(acme_member).get("/api/auth/me/").status_code == 200


def test_a_token_and_its_user_are_read_in_one_query(acme_member):
    client = client_for(acme_member)

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/auth/me/")

    assert response.status_code == 200
    token_queries = [q["sql"] for q in queries.captured_queries if "knox_authtoken" in q["sql"]]
    assert len(token_queries) == 1
    assert "accounts_user" in token_queries[0]


def test_other_schemes_are_left_to_other_authenticators(acme):
    # A proxy's Basic auth is not ours to judge: the request is simply not signed in.
    response = _get(acme, "public", "Basic dXNlcjpwYXNz")

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_an_expired_token_is_refused_and_deleted_and_login_clears_the_others():
    user = make_user(password="a-long-unusual-passphrase-42")
    expired, raw = AuthToken.objects.create(user=user)
    AuthToken.objects.filter(pk=expired.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    stale_other, _ = AuthToken.objects.create(user=user)
    AuthToken.objects.filter(pk=stale_other.pk).update(expiry=timezone.now() - timedelta(days=1))
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert client.get("/api/auth/me/").status_code == 401
    assert not AuthToken.objects.filter(pk=expired.pk).exists()
    assert AuthToken.objects.filter(pk=stale_other.pk).exists()  # left for the next login

    login = client_for(None).post(
        "/api/auth/login/",
        {"email": user.email, "password": "a-long-unusual-passphrase-42"},
        format="json",
    )

    assert login.status_code == 200
    assert not AuthToken.objects.filter(pk=stale_other.pk).exists()
