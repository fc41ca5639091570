"""Passwords: a reset link for anyone who reads the mailbox (the answer never says who has an
account), changing a password knowing the current one, and ending sessions with either."""

import datetime
from unittest import mock

import pytest
from django.conf import settings
from django.core import mail
from django.test import override_settings
from knox.models import AuthToken

from shared_apps.accounts.models import User
from shared_apps.accounts.tokens import email_verification_token, password_token, uid_for
from tests.factories import client_for, make_user

from .emailed_links import OTHER_PASSWORD, PASSWORD, set_password_link_to

pytestmark = pytest.mark.django_db

RESET_URL = "/api/auth/password-reset/"
CONFIRM_URL = "/api/auth/password-reset/confirm/"
CHANGE_URL = "/api/auth/password/"
LOGOUT_ALL_URL = "/api/auth/logout-all/"
LOGIN_URL = "/api/auth/login/"
ME_URL = "/api/auth/me/"
RESET_ACCEPTED = {
    "detail": "If an account uses this address, we emailed it a link to set a new password."
}
NEW_PASSWORD = "a-brand-new-passphrase-7"


def _bearer(token: str):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _tokens_of(user: User, count: int) -> list[str]:
    return [AuthToken.objects.create(user=user)[1] for _ in range(count)]


def _login(email: str, password: str):
    return client_for(None).post(LOGIN_URL, {"email": email, "password": password})


def _reset(email: str):
    return client_for(None).post(RESET_URL, {"email": email})


def _confirm(uid: str, token: str, new_password: str = NEW_PASSWORD):
    return client_for(None).post(
        CONFIRM_URL, {"uid": uid, "token": token, "new_password": new_password}
    )


def _link_of(user: User) -> dict[str, str]:
    return {"uid": uid_for(user), "token": password_token.make_token(user)}


# --- asking for a reset link ------------------------------------------------------------


@pytest.mark.parametrize("who", [None, "verified", "unverified", "passwordless", "deactivated"])
def test_asking_for_a_reset_answers_202_with_one_body_whoever_owns_the_address(
    committed, request, who
):
    email = request.getfixturevalue(who).email if who else "nobody@test.example.com"
    with committed():
        response = _reset(email)

    assert response.status_code == 202
    assert response.json() == RESET_ACCEPTED


def test_an_active_account_is_emailed_a_reset_link(committed, verified):
    with committed():
        _reset("  PAT.Jones@Test.Example.com ")

    message = mail.outbox[0]
    link = set_password_link_to(verified.email)
    assert message.subject == "Reset your password"
    assert link["uid"] == uid_for(verified)
    assert "your password stays as it is" in " ".join(message.body.split())


def test_an_account_without_a_password_is_emailed_a_link_to_choose_one(committed, passwordless):
    with committed():
        _reset(passwordless.email)

    link = set_password_link_to(passwordless.email)
    assert mail.outbox[0].subject == "Set your password"
    assert _confirm(link["uid"], link["token"]).status_code == 200
    assert _login(passwordless.email, NEW_PASSWORD).status_code == 200


@pytest.mark.parametrize("email", ["nobody@test.example.com", "gone@test.example.com"])
def test_unknown_and_deactivated_addresses_are_emailed_nothing(committed, deactivated, email):
    with committed():
        _reset(email)

    assert mail.outbox == []


def test_asking_for_a_reset_changes_nothing_until_the_link_is_followed(committed, verified):
    _, token = AuthToken.objects.create(user=verified)
    with committed():
        _reset(verified.email)

    assert _login(verified.email, PASSWORD).status_code == 200
    assert _bearer(token).get(ME_URL).status_code == 200


@pytest.mark.parametrize("body", [{}, {"email": "not-an-email"}, {"email": "x" * 250 + "@a.io"}])
def test_a_reset_request_without_a_valid_address_answers_400_naming_email(committed, body):
    with committed():
        response = client_for(None).post(RESET_URL, body)

    assert response.status_code == 400
    assert set(response.json()) == {"email"}
    assert mail.outbox == []


@override_settings(FRONTEND_URL="https://app.example.com")
def test_with_a_front_end_the_reset_link_opens_it(committed, verified):
    with committed():
        _reset(verified.email)

    (message,) = mail.outbox
    assert f"https://app.example.com/set-password?uid={uid_for(verified)}&" in message.body
    assert "/accounts/reset/" not in message.body


# --- setting the password from the link -------------------------------------------------


def test_the_reset_link_sets_the_password_and_returns_a_working_token(committed, verified):
    with committed():
        _reset(verified.email)
    link = set_password_link_to(verified.email)

    response = _confirm(link["uid"], link["token"])

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    assert _bearer(body["token"]).get(ME_URL).json()["email"] == verified.email
    assert _login(verified.email, NEW_PASSWORD).status_code == 200
    assert _login(verified.email, PASSWORD).status_code == 400


def test_a_reset_ends_every_older_api_token_of_the_account(verified):
    old_tokens = _tokens_of(verified, 3)
    bystander = make_user()
    (bystander_token,) = _tokens_of(bystander, 1)

    response = _confirm(**_link_of(verified))

    assert response.status_code == 200
    for token in old_tokens:
        assert _bearer(token).get(ME_URL).status_code == 401
    assert _bearer(response.json()["token"]).get(ME_URL).status_code == 200
    assert _bearer(bystander_token).get(ME_URL).status_code == 200
    assert AuthToken.objects.filter(user=verified).count() == 1


def test_a_reset_link_works_once(verified):
    link = _link_of(verified)
    assert _confirm(**link).status_code == 200

    again = _confirm(**link, new_password=OTHER_PASSWORD)

    assert again.status_code == 400
    assert set(again.json()) == {"token"}
    assert _login(verified.email, NEW_PASSWORD).status_code == 200
    assert _login(verified.email, OTHER_PASSWORD).status_code == 400


def test_a_newer_reset_makes_earlier_links_stop_working(verified):
    first = _link_of(verified)
    second = _link_of(verified)
    assert _confirm(**second).status_code == 200

    assert _confirm(**first, new_password=OTHER_PASSWORD).status_code == 400


@pytest.mark.parametrize("weak", ["short", "password123", "12345678901", "pat.jones@test"])
def test_a_weak_new_password_answers_400_and_the_link_still_works(verified, weak):
    link = _link_of(verified)
    (token,) = _tokens_of(verified, 1)

    response = _confirm(**link, new_password=weak)

    assert response.status_code == 400
    assert set(response.json()) == {"new_password"}
    assert _login(verified.email, PASSWORD).status_code == 200
    assert _bearer(token).get(ME_URL).status_code == 200
    assert _confirm(**link).status_code == 200


def test_a_reset_verifies_an_unverified_address(unverified):
    response = _confirm(**_link_of(unverified))

    assert response.status_code == 200
    assert User.objects.get(pk=unverified.pk).is_email_verified
    assert _login(unverified.email, NEW_PASSWORD).status_code == 200


def test_a_reset_link_of_a_deactivated_account_is_refused(verified):
    link = _link_of(verified)
    verified.is_active = False
    verified.save(update_fields=["is_active"])

    response = _confirm(**link)

    assert response.status_code == 400
    assert "token" in response.json()
    assert User.objects.get(pk=verified.pk).check_password(PASSWORD)


def test_a_reset_link_expires_after_the_reset_timeout(verified):
    link = _link_of(verified)
    later = datetime.datetime.now() + datetime.timedelta(
        seconds=settings.PASSWORD_RESET_TIMEOUT + 60
    )

    with mock.patch.object(password_token, "_now", return_value=later):
        expired = _confirm(**link)

    assert expired.status_code == 400
    assert "token" in expired.json()
    assert User.objects.get(pk=verified.pk).check_password(PASSWORD)
    assert _confirm(**link).status_code == 200


def test_a_verification_token_does_not_reset_a_password(unverified):
    response = _confirm(uid_for(unverified), email_verification_token.make_token(unverified))

    assert response.status_code == 400
    assert User.objects.get(pk=unverified.pk).check_password(PASSWORD)


@pytest.mark.parametrize(
    ("uid", "token"),
    [("garbage", "garbage"), ("OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ", "{token}"), ("{uid}", "日本-é")],
    ids=["garbage", "huge uid", "non-ASCII token"],
)
def test_a_forged_reset_link_answers_400(verified, uid, token):
    real = _link_of(verified)

    response = _confirm(uid.format(**real), token.format(**real))

    assert response.status_code == 400
    assert User.objects.get(pk=verified.pk).check_password(PASSWORD)


def test_a_reset_confirmation_with_a_lone_surrogate_answers_400(verified):
    body = '{"uid": "\\ud800", "token": "\\ud800", "new_password": "\\ud800abcdefghij"}'

    response = client_for(None).post(CONFIRM_URL, data=body, content_type="application/json")

    assert response.status_code == 400


def test_a_reset_confirmation_without_fields_names_them():
    response = client_for(None).post(CONFIRM_URL, {})

    assert response.status_code == 400
    assert set(response.json()) == {"uid", "token", "new_password"}


# --- changing the password knowing the current one --------------------------------------


def test_changing_the_password_keeps_the_current_token_and_ends_the_others(verified):
    current, other, another = _tokens_of(verified, 3)

    response = _bearer(current).post(
        CHANGE_URL, {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )

    assert response.status_code == 200, response.content
    assert "detail" in response.json()
    assert _bearer(current).get(ME_URL).status_code == 200
    assert _bearer(other).get(ME_URL).status_code == 401
    assert _bearer(another).get(ME_URL).status_code == 401
    assert _login(verified.email, NEW_PASSWORD).status_code == 200
    assert _login(verified.email, PASSWORD).status_code == 400


def test_a_wrong_current_password_answers_400_and_changes_nothing(verified):
    current, other = _tokens_of(verified, 2)

    response = _bearer(current).post(
        CHANGE_URL, {"current_password": OTHER_PASSWORD, "new_password": NEW_PASSWORD}
    )

    assert response.status_code == 400
    assert set(response.json()) == {"current_password"}
    assert _login(verified.email, PASSWORD).status_code == 200
    assert _bearer(other).get(ME_URL).status_code == 200


def test_a_weak_new_password_is_refused_naming_new_password(verified):
    current, other = _tokens_of(verified, 2)

    response = _bearer(current).post(
        CHANGE_URL, {"current_password": PASSWORD, "new_password": "password123"}
    )

    assert response.status_code == 400
    assert set(response.json()) == {"new_password"}
    assert _login(verified.email, PASSWORD).status_code == 200
    assert _bearer(other).get(ME_URL).status_code == 200


def test_changing_a_password_needs_a_token():
    response = client_for(None).post(
        CHANGE_URL, {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )

    assert response.status_code == 401


def test_an_account_without_a_password_cannot_change_it_with_any_current_password(
    passwordless,
):
    (token,) = _tokens_of(passwordless, 1)

    response = _bearer(token).post(
        CHANGE_URL, {"current_password": "anything-at-all-1", "new_password": NEW_PASSWORD}
    )

    assert response.status_code == 400
    assert set(response.json()) == {"current_password"}
    assert not User.objects.get(pk=passwordless.pk).has_usable_password()


# --- logging out everywhere -------------------------------------------------------------


def test_logout_all_ends_every_token_of_the_user_and_no_one_elses(verified):
    current, other = _tokens_of(verified, 2)
    bystander = make_user()
    (bystander_token,) = _tokens_of(bystander, 1)

    response = _bearer(current).post(LOGOUT_ALL_URL)

    assert response.status_code == 204
    assert _bearer(current).get(ME_URL).status_code == 401
    assert _bearer(other).get(ME_URL).status_code == 401
    assert _bearer(bystander_token).get(ME_URL).status_code == 200
    assert not AuthToken.objects.filter(user=verified).exists()
    assert _login(verified.email, PASSWORD).status_code == 200


def test_logout_all_needs_a_token():
    assert client_for(None).post(LOGOUT_ALL_URL).status_code == 401
