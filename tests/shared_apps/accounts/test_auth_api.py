"""Accounts on the public host: login, logout, me, and how API tokens are kept (sign-up and
verification: test_registration.py; passwords: test_passwords.py)."""

import datetime

import pytest
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from knox.crypto import hash_token
from knox.models import AuthToken

from shared_apps.organizations.models import Membership, Role
from shared_apps.organizations.services import organization_set_active
from tests.factories import client_for, make_member, make_user

pytestmark = pytest.mark.django_db

LOGIN_URL = "/api/auth/login/"
LOGOUT_URL = "/api/auth/logout/"
ME_URL = "/api/auth/me/"
PASSWORD = "correct-horse-battery-staple"
TEXT_TYPES = ("character varying", "character", "text", "json", "jsonb")


@pytest.fixture
def account():
    """A user who can log in with PASSWORD."""
    return make_user(email="pat.jones@test.example.com", password=PASSWORD, full_name="Pat Jones")


def _login(client, email: str, password: str = PASSWORD):
    return client.post(LOGIN_URL, {"email": email, "password": password})


def _token(client, email: str) -> str:
    response = _login(client, email)
    assert response.status_code == 200, response.content
    return response.json()["token"]


def _bearer(token: str | None):
    client = client_for(None)
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


# --- login --------------------------------------------------------------------------------


def test_login_returns_a_token_that_expires_in_seven_days(public_client, account):
    before = timezone.now()
    response = _login(public_client, account.email)
    after = timezone.now()

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    expires_at = parse_datetime(body["expires_at"])
    week = datetime.timedelta(days=7)
    assert before + week - datetime.timedelta(seconds=1) <= expires_at <= after + week
    (row,) = AuthToken.objects.filter(user=account)
    assert row.expiry == expires_at


def test_the_login_token_authenticates_requests(public_client, account):
    token = _token(public_client, account.email)

    response = _bearer(token).get(ME_URL)

    assert response.status_code == 200
    assert response.json()["id"] == account.pk


def test_login_with_the_email_in_another_case_succeeds(public_client, account):
    response = _login(public_client, "PAT.JONES@Test.Example.COM")

    assert response.status_code == 200
    assert _bearer(response.json()["token"]).get(ME_URL).json()["email"] == account.email


def test_wrong_password_unknown_email_and_inactive_account_answer_alike(public_client, account):
    inactive = make_user(email="gone@test.example.com", password=PASSWORD)
    inactive.is_active = False
    inactive.save(update_fields=["is_active"])
    passwordless = make_user(email="nopass@test.example.com")

    wrong_password = _login(public_client, account.email, "not-the-password")
    unknown_email = _login(public_client, "nobody@test.example.com")
    deactivated = _login(public_client, inactive.email)
    no_password = _login(public_client, passwordless.email, "")

    assert wrong_password.status_code in (400, 401)
    for other in (unknown_email, deactivated):
        assert other.status_code == wrong_password.status_code
        assert other.json() == wrong_password.json()
    assert no_password.status_code == 400
    assert "token" not in wrong_password.json()
    assert not AuthToken.objects.filter(user__in=[account, inactive, passwordless]).exists()


def test_login_with_a_malformed_body_answers_400_naming_the_fields(public_client):
    response = public_client.post(LOGIN_URL, {"email": "not-an-email"})

    assert response.status_code == 400
    assert {"email", "password"} <= set(response.json())


# --- logout -------------------------------------------------------------------------------


def test_logout_revokes_only_the_token_used(public_client, account):
    used = _token(public_client, account.email)
    other = _token(public_client, account.email)

    response = _bearer(used).post(LOGOUT_URL)

    assert response.status_code == 204
    assert _bearer(used).get(ME_URL).status_code == 401
    assert _bearer(other).get(ME_URL).status_code == 200
    assert AuthToken.objects.filter(user=account).count() == 1


def test_a_revoked_token_no_longer_works_on_organization_hosts(acme):
    member = make_member(acme, Role.MEMBER, password=PASSWORD)
    token = _token(client_for(None), member.email)
    tenant_client = client_for(None, acme)
    tenant_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert tenant_client.get("/api/projects/").status_code == 200

    _bearer(token).post(LOGOUT_URL)

    assert tenant_client.get("/api/projects/").status_code == 401


def test_logout_without_a_token_answers_401(public_client):
    assert public_client.post(LOGOUT_URL).status_code == 401


# --- me -----------------------------------------------------------------------------------


def test_me_shows_the_user_and_their_active_organizations_with_roles(acme, globex):
    user = make_member(acme, Role.MANAGER, full_name="Morgan Lee")
    Membership.objects.create(user=user, organization=globex, role=Role.MEMBER)

    response = client_for(user).get(ME_URL)

    assert response.status_code == 200
    assert response.json() == {
        "id": user.pk,
        "email": user.email,
        "full_name": "Morgan Lee",
        "organizations": [
            {"slug": "acme", "name": "Acme Corp", "domain": "acme.localhost", "role": "MANAGER"},
            {
                "slug": "globex",
                "name": "Globex Corporation",
                "domain": "globex.localhost",
                "role": "MEMBER",
            },
        ],
        "invitations": [],
    }


def test_me_leaves_out_deactivated_organizations(acme, globex):
    user = make_member(acme, Role.ADMIN)
    organization_set_active(organization=acme, is_active=False)

    assert client_for(user).get(ME_URL).json()["organizations"] == []


def test_me_of_a_user_without_organizations_lists_none(db):
    assert client_for(make_user()).get(ME_URL).json()["organizations"] == []


def test_me_answers_401_to_anonymous_requests_with_a_bearer_challenge(public_client):
    response = public_client.get(ME_URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not-a-real-token",
        "Bearer ",
        "Token {token}",
        "Bearer {token} extra",
        "Bearer {token}x",
    ],
)
def test_a_bad_authorization_header_answers_401(public_client, account, header):
    token = _token(public_client, account.email)
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=header.format(token=token))

    assert client.get(ME_URL).status_code == 401


# --- token storage and expiry -------------------------------------------------------------


def test_an_expired_token_answers_401(account):
    instance, token = AuthToken.objects.create(user=account)
    assert _bearer(token).get(ME_URL).status_code == 200

    AuthToken.objects.filter(pk=instance.pk).update(
        expiry=timezone.now() - datetime.timedelta(seconds=1)
    )

    assert _bearer(token).get(ME_URL).status_code == 401


def test_a_token_past_its_seven_days_answers_401(account):
    instance, token = AuthToken.objects.create(user=account)
    # As if issued seven days and a minute ago.
    AuthToken.objects.filter(pk=instance.pk).update(
        created=instance.created - datetime.timedelta(days=7, minutes=1),
        expiry=instance.expiry - datetime.timedelta(days=7, minutes=1),
    )

    assert _bearer(token).get(ME_URL).status_code == 401


def test_a_deactivated_users_token_answers_401(account):
    _, token = AuthToken.objects.create(user=account)
    account.is_active = False
    account.save(update_fields=["is_active"])

    assert _bearer(token).get(ME_URL).status_code == 401


def _text_columns(table: str | None = None) -> list[tuple[str, str]]:
    sql = (
        "SELECT table_name, column_name FROM information_schema.columns"
        " JOIN information_schema.tables USING (table_schema, table_name)"
        " WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND data_type = ANY(%s)"
    )
    params: list = [list(TEXT_TYPES)]
    if table is not None:
        sql += " AND table_name = %s"
        params.append(table)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_the_raw_token_is_stored_nowhere(public_client, account):
    token = _token(public_client, account.email)
    (row,) = AuthToken.objects.filter(user=account)

    # Only a 15-character lookup prefix and a hash are kept.
    assert row.token_key == token[:15]
    assert len(row.token_key) == 15 < len(token)
    assert row.digest == hash_token(token)
    assert not AuthToken.objects.filter(digest=token).exists()
    assert not AuthToken.objects.filter(token_key=token).exists()

    columns = _text_columns("knox_authtoken")
    assert {"digest", "token_key"} <= {column for _, column in columns}
    with connection.cursor() as cursor:
        for _, column in columns:
            cursor.execute(f'SELECT "{column}"::text FROM public.knox_authtoken')
            values = [value for (value,) in cursor.fetchall() if value is not None]
            assert token not in values, column
            assert not [value for value in values if token in value], column

        # ...nor in any other text column of the public schema.
        for table, column in _text_columns():
            cursor.execute(
                f'SELECT count(*) FROM public."{table}" WHERE strpos("{column}"::text, %s) > 0',
                [token],
            )
            assert cursor.fetchone()[0] == 0, f"{table}.{column}"
