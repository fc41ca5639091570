"""Sign-up with email verification: the answer never says who has an account, a sign-up never
changes an existing one, an account is activated only by whoever reads the mailbox *and* chose
its password, and a pre-registered address cannot be used to impersonate its owner."""

import datetime
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.hashers import get_hasher
from django.core import mail
from django.test import override_settings
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from knox.models import AuthToken

from shared_apps.accounts.models import User
from shared_apps.accounts.services import SIGN_UP_PASSWORD
from shared_apps.accounts.tokens import email_verification_token, password_token, uid_for
from shared_apps.organizations.services import organization_onboard
from tests.factories import client_for, make_user

from .emailed_links import (
    OTHER_PASSWORD,
    PASSWORD,
    SET_PASSWORD_LINK,
    VERIFY_LINK,
    link_in,
    only_email_to,
    open_verify_link,
    set_password_link_to,
    verify_link_to,
)

pytestmark = pytest.mark.django_db

REGISTER_URL = "/api/auth/register/"
VERIFY_URL = "/api/auth/verify-email/"
LOGIN_URL = "/api/auth/login/"
ME_URL = "/api/auth/me/"
ACCEPTED = {
    "detail": (
        "Check your inbox: we sent a message to this address. Follow its link to confirm it, "
        "then log in."
    )
}
INVALID_CREDENTIALS = {"detail": "Unable to log in with these credentials."}
NEW_EMAIL = "new.person@test.example.com"
NEW_PASSWORD = "a-brand-new-passphrase-7"
RESET_CONFIRM_URL = "/api/auth/password-reset/confirm/"
# Active accounts in each state an address can be in: verified or not, with a password or not.
EXISTING_ACTIVE = ["verified", "unverified", "passwordless", "not_set_up"]


def _register(email: str, password: str = PASSWORD, **fields):
    return client_for(None).post(REGISTER_URL, {"email": email, "password": password, **fields})


def _verify(uid: str, token: str, password: str = PASSWORD):
    return client_for(None).post(VERIFY_URL, {"uid": uid, "token": token, "password": password})


def _login(email: str, password: str = PASSWORD):
    return client_for(None).post(LOGIN_URL, {"email": email, "password": password})


def _me(token: str):
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(ME_URL)


def _verification_token_of(user: User) -> dict[str, str]:
    return {"uid": uid_for(user), "token": email_verification_token.make_token(user)}


# --- register: one answer for every address --------------------------------------------


def test_registering_a_new_address_answers_202_and_creates_an_unverified_account(committed):
    with committed():
        response = _register("New.Person@Test.Example.COM", full_name="New Person")

    assert response.status_code == 202, response.content
    assert response.json() == ACCEPTED
    assert PASSWORD not in response.content.decode()
    user = User.objects.get(email=NEW_EMAIL)
    assert user.full_name == "New Person"
    assert user.is_active
    assert not user.is_email_verified
    assert user.check_password(PASSWORD)
    assert not user.is_staff and not user.is_superuser


def test_a_new_address_is_emailed_a_verification_link_to_this_sites_page(committed):
    with committed():
        _register(NEW_EMAIL, full_name="New Person")

    message = only_email_to(NEW_EMAIL)
    assert message.subject == "Confirm your email address"
    user = User.objects.get(email=NEW_EMAIL)
    link = link_in(message, VERIFY_LINK)
    assert link["uid"] == uid_for(user)
    body = " ".join(message.body.split())
    assert "Confirm it, with the password you chose, to activate the account" in body
    hours = settings.PASSWORD_RESET_TIMEOUT // 3600
    assert f"expires in {hours} hours" in body
    assert PASSWORD not in message.body


@pytest.mark.parametrize("existing", [*EXISTING_ACTIVE, "deactivated"])
def test_registering_an_existing_address_answers_exactly_like_a_new_one(
    committed, request, existing
):
    user = request.getfixturevalue(existing)
    with committed():
        new = _register(NEW_EMAIL)
        taken = _register(user.email.upper())

    assert taken.status_code == new.status_code == 202
    assert taken.json() == new.json() == ACCEPTED
    assert User.objects.filter(email__iexact=user.email).count() == 1


@pytest.mark.parametrize("existing", [*EXISTING_ACTIVE, "deactivated"])
def test_a_sign_up_with_a_taken_address_does_as_much_password_hashing_as_a_new_one(
    committed, request, existing
):
    user = request.getfixturevalue(existing)
    hasher = type(get_hasher())
    with (
        mock.patch.object(hasher, "encode", autospec=True, side_effect=hasher.encode) as hashing,
        committed(),
    ):
        _register(NEW_EMAIL)
        hashed_for_new = hashing.call_count
        hashing.reset_mock()
        _register(user.email)

    assert hashed_for_new == 1
    assert hashing.call_count == hashed_for_new


@pytest.mark.parametrize("existing", EXISTING_ACTIVE)
def test_registering_an_existing_address_changes_nothing_and_emails_the_owner_a_set_password_link(
    committed, request, existing
):
    user = request.getfixturevalue(existing)
    before = User.objects.get(pk=user.pk)
    with committed():
        response = _register(user.email.upper(), OTHER_PASSWORD, full_name="Impostor")

    assert response.status_code == 202
    message = only_email_to(user.email)
    assert message.subject == "You already have an account"
    assert link_in(message, SET_PASSWORD_LINK)["uid"] == uid_for(user)
    assert not VERIFY_LINK.search(message.body)
    assert OTHER_PASSWORD not in message.body
    after = User.objects.get(pk=user.pk)
    assert after.password == before.password
    assert not after.check_password(OTHER_PASSWORD)
    assert after.full_name == before.full_name
    assert after.email_verified_at == before.email_verified_at
    assert _login(user.email, OTHER_PASSWORD).json() == INVALID_CREDENTIALS


def test_a_verified_account_keeps_logging_in_with_its_password_after_someone_signs_up_with_it(
    committed, verified
):
    with committed():
        _register(verified.email, OTHER_PASSWORD, full_name="Impostor")

    response = _login(verified.email)
    assert response.status_code == 200
    assert _me(response.json()["token"]).json()["full_name"] == "Pat Jones"


NOT_SET_UP_WORDING = (
    "already has an account that is not set up yet. To use it, set your password here "
    "(this also confirms the address):"
)


@pytest.mark.parametrize(
    ("existing", "wording"),
    [
        ("verified", "already has an account. Log in with your password instead"),
        ("unverified", NOT_SET_UP_WORDING),
        ("passwordless", NOT_SET_UP_WORDING),
        ("not_set_up", NOT_SET_UP_WORDING),
    ],
)
def test_the_already_registered_email_tells_the_owner_what_its_link_is_for(
    committed, request, existing, wording
):
    user = request.getfixturevalue(existing)
    with committed():
        _register(user.email, OTHER_PASSWORD)

    body = " ".join(only_email_to(user.email).body.split())
    assert wording in body
    assert "If this was not you, ignore this email: nothing about your account has changed" in body


@pytest.mark.parametrize("existing", EXISTING_ACTIVE)
def test_the_already_registered_emails_link_sets_a_password_that_logs_in(
    committed, request, existing
):
    user = request.getfixturevalue(existing)
    with committed():
        _register(user.email, OTHER_PASSWORD)
    link = set_password_link_to(user.email)

    response = client_for(None).post(
        RESET_CONFIRM_URL,
        {"uid": link["uid"], "token": link["token"], "new_password": NEW_PASSWORD},
    )

    assert response.status_code == 200, response.content
    assert User.objects.get(pk=user.pk).is_email_verified
    assert _login(user.email, NEW_PASSWORD).status_code == 200
    assert _login(user.email, OTHER_PASSWORD).json() == INVALID_CREDENTIALS


def test_signing_up_twice_before_confirming_keeps_the_first_password_and_link(committed):
    with committed():
        _register(NEW_EMAIL, full_name="New Person")
    first_link = verify_link_to(NEW_EMAIL)
    mail.outbox.clear()

    with committed():
        _register(NEW_EMAIL, OTHER_PASSWORD, full_name="Someone Else")

    set_password_link_to(NEW_EMAIL)  # the second sign-up is told the address is taken
    second_password = _verify(first_link["uid"], first_link["token"], OTHER_PASSWORD)
    assert second_password.status_code == 400
    assert not User.objects.get(email=NEW_EMAIL).is_email_verified
    assert _verify(first_link["uid"], first_link["token"]).status_code == 200
    assert User.objects.get(email=NEW_EMAIL).full_name == "New Person"
    assert _login(NEW_EMAIL).status_code == 200


def test_registering_a_deactivated_address_sends_nothing_and_changes_nothing(
    committed, deactivated
):
    before = User.objects.get(pk=deactivated.pk)
    with committed():
        response = _register(deactivated.email, OTHER_PASSWORD)

    assert response.status_code == 202
    assert response.json() == ACCEPTED
    assert mail.outbox == []
    after = User.objects.get(pk=deactivated.pk)
    assert not after.is_active
    assert after.password == before.password


@override_settings(FRONTEND_URL="https://app.example.com")
def test_with_a_front_end_the_verification_link_opens_it_with_uid_and_token(committed):
    with committed():
        _register(NEW_EMAIL)

    message = only_email_to(NEW_EMAIL)
    (url,) = [word for word in message.body.split() if word.startswith("https://")]
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "app.example.com", "/verify-email")
    query = parse_qs(parts.query)
    assert set(query) == {"uid", "token"}, url
    assert query["uid"] == [uid_for(User.objects.get(email=NEW_EMAIL))]
    # The front-end hands the two parameters to the API as they are, with the password.
    response = _verify(query["uid"][0], query["token"][0])
    assert response.status_code == 200, response.content


UNSAFE_NAME = "Seán O'Brien & <Co>"
ESCAPED = ("&#x27;", "&amp;", "&lt;", "&gt;", "&quot;")


@override_settings(FRONTEND_URL="https://app.example.com")
@pytest.mark.parametrize("email", ["already_registered", "set_password"])
def test_names_and_links_reach_plain_text_emails_unescaped(committed, email):
    # These emails greet the account's own name, and their front-end links carry an "&".
    owner = make_user(email="sean@test.example.com", password=PASSWORD, full_name=UNSAFE_NAME)
    with committed():
        if email == "already_registered":
            _register(owner.email, OTHER_PASSWORD, full_name="Impostor")
        else:
            client_for(None).post("/api/auth/password-reset/", {"email": owner.email})

    body = only_email_to(owner.email).body
    assert f"Hello {UNSAFE_NAME}," in body
    assert "Impostor" not in body
    (url,) = [word for word in body.split() if word.startswith("https://")]
    assert url.startswith("https://app.example.com/set-password?uid=")
    assert "&token=" in url
    assert not any(entity in body for entity in ESCAPED), body


@override_settings(FRONTEND_URL="https://app.example.com")
def test_the_verification_email_greets_nobody_by_the_name_given_at_sign_up(committed):
    # Whoever signs up chooses the name, and the email goes to an address they may not own.
    with committed():
        _register(NEW_EMAIL, full_name=UNSAFE_NAME)

    body = only_email_to(NEW_EMAIL).body
    assert body.startswith("Hello,\n")
    assert not any(part in body for part in ("Seán", "O'Brien", "<Co>")), body
    assert User.objects.get(email=NEW_EMAIL).full_name == UNSAFE_NAME  # kept, just not sent
    (url,) = [word for word in body.split() if word.startswith("https://")]
    assert url.startswith("https://app.example.com/verify-email?uid=")
    assert "&token=" in url
    assert not any(entity in body for entity in ESCAPED), body


# --- register: validation, the same whoever has an account ------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@"}, "email"),
        ({"email": "two@@example.com"}, "email"),
        ({"email": ""}, "email"),
        ({"email": "x" * 243 + "@example.com"}, "email"),
        ({"password": "short"}, "password"),
        ({"password": "password123"}, "password"),
        ({"password": "12345678901"}, "password"),
        ({"password": "x" * 129}, "password"),
        ({"password": ""}, "password"),
        ({"full_name": "x" * 151}, "full_name"),
    ],
)
def test_an_invalid_sign_up_answers_400_naming_the_field_and_sends_nothing(
    committed, fields, field
):
    with committed():
        response = _register(**{"email": NEW_EMAIL, "password": PASSWORD, **fields})

    assert response.status_code == 400
    assert set(response.json()) == {field}
    assert response.json()[field]
    assert not User.objects.filter(email__iexact=NEW_EMAIL).exists()
    assert mail.outbox == []


@pytest.mark.parametrize("existing", ["verified", "unverified", "deactivated"])
@pytest.mark.parametrize(
    "fields",
    [{"password": "password123"}, {"password": "short"}, {"full_name": "x" * 151}],
)
def test_validation_errors_are_the_same_for_a_taken_address(committed, request, existing, fields):
    user = request.getfixturevalue(existing)
    before = User.objects.get(pk=user.pk)
    with committed():
        new = _register(**{"email": NEW_EMAIL, "password": PASSWORD, **fields})
        taken = _register(**{"email": user.email, "password": PASSWORD, **fields})

    assert taken.status_code == new.status_code == 400
    assert taken.json() == new.json()
    assert mail.outbox == []
    assert User.objects.get(pk=user.pk).password == before.password


def test_a_password_like_the_address_is_refused_for_new_and_taken_addresses(verified):
    new = _register(NEW_EMAIL, NEW_EMAIL)
    taken = _register(verified.email, verified.email)

    assert new.status_code == taken.status_code == 400
    assert set(new.json()) == {"password"}
    assert new.json() == taken.json()


def test_a_sign_up_without_email_or_password_names_both():
    response = client_for(None).post(REGISTER_URL, {})

    assert response.status_code == 400
    assert set(response.json()) == {"email", "password"}


def test_privilege_fields_in_a_sign_up_are_ignored(committed):
    with committed():
        response = _register(
            NEW_EMAIL,
            is_staff=True,
            is_superuser=True,
            is_active=False,
            email_verified_at="2020-01-01T00:00:00Z",
        )

    assert response.status_code == 202
    user = User.objects.get(email=NEW_EMAIL)
    assert not user.is_staff
    assert not user.is_superuser
    assert user.is_active
    assert user.email_verified_at is None
    assert _login(NEW_EMAIL).json()["detail"].startswith("Confirm your email address")


# --- login before verification -----------------------------------------------------------


def test_an_unverified_account_with_the_right_password_is_told_to_confirm_its_email(
    unverified,
):
    response = _login(unverified.email)

    assert response.status_code == 400
    assert set(response.json()) == {"detail"}
    assert response.json()["detail"].startswith("Confirm your email address first")
    assert "token" not in response.json()


def test_the_confirm_first_answer_points_to_a_password_reset_which_confirms_the_address(
    committed, unverified
):
    advice = _login(unverified.email).json()["detail"]

    assert "password reset" in advice
    assert "signing up again" not in advice


def test_an_unverified_account_with_a_wrong_password_gets_the_generic_answer(unverified):
    wrong = _login(unverified.email, OTHER_PASSWORD)
    unknown = _login("nobody@test.example.com")

    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json() == INVALID_CREDENTIALS


def test_a_new_sign_up_cannot_log_in_until_it_follows_its_link(committed):
    with committed():
        _register(NEW_EMAIL)
    assert _login(NEW_EMAIL).status_code == 400

    link = verify_link_to(NEW_EMAIL)
    assert _verify(link["uid"], link["token"]).status_code == 200

    assert _login(NEW_EMAIL).status_code == 200


# --- verify-email -----------------------------------------------------------------------


def test_following_the_verification_link_verifies_and_returns_a_working_token(committed):
    with committed():
        _register(NEW_EMAIL, full_name="New Person")
    link = verify_link_to(NEW_EMAIL)

    response = _verify(link["uid"], link["token"])

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    assert body["expires_at"]
    assert User.objects.get(email=NEW_EMAIL).is_email_verified
    me = _me(body["token"])
    assert me.status_code == 200
    assert me.json()["email"] == NEW_EMAIL
    assert me.json()["full_name"] == "New Person"


def test_a_verification_link_works_once(committed):
    with committed():
        _register(NEW_EMAIL)
    link = verify_link_to(NEW_EMAIL)
    assert _verify(link["uid"], link["token"]).status_code == 200

    again = _verify(link["uid"], link["token"])

    assert again.status_code == 400
    assert set(again.json()) == {"token"}
    assert "not valid" in again.json()["token"][0]


def test_a_wrong_password_answers_400_verifies_nothing_and_leaves_the_link_usable(committed):
    with committed():
        _register(NEW_EMAIL)
    link = verify_link_to(NEW_EMAIL)

    response = _verify(link["uid"], link["token"], OTHER_PASSWORD)

    assert response.status_code == 400
    assert response.json() == {"password": [SIGN_UP_PASSWORD]}
    assert not User.objects.get(email=NEW_EMAIL).is_email_verified
    assert not AuthToken.objects.exists()
    assert _login(NEW_EMAIL).status_code == 400
    # The link is not used up: with the password chosen at sign-up it still works.
    assert _verify(link["uid"], link["token"]).status_code == 200


@pytest.mark.parametrize("password", [{}, {"password": ""}], ids=["missing", "blank"])
def test_a_verification_without_a_password_answers_400_naming_password(unverified, password):
    body = {**_verification_token_of(unverified), **password}

    response = client_for(None).post(VERIFY_URL, body)

    assert response.status_code == 400
    assert set(response.json()) == {"password"}
    assert not User.objects.get(pk=unverified.pk).is_email_verified


def test_a_bad_link_is_reported_before_a_wrong_password(unverified):
    real = _verification_token_of(unverified)

    response = _verify(real["uid"], f"{real['token']}x", OTHER_PASSWORD)

    assert response.status_code == 400
    assert set(response.json()) == {"token"}
    assert not User.objects.get(pk=unverified.pk).is_email_verified


def test_a_verification_link_of_a_deactivated_account_is_refused(unverified):
    link = _verification_token_of(unverified)
    unverified.is_active = False
    unverified.save(update_fields=["is_active"])

    response = _verify(**link)

    assert response.status_code == 400
    assert "token" in response.json()
    assert not User.objects.get(pk=unverified.pk).is_email_verified


def test_a_verification_link_expires_after_the_reset_timeout(unverified):
    link = _verification_token_of(unverified)
    later = datetime.datetime.now() + datetime.timedelta(
        seconds=settings.PASSWORD_RESET_TIMEOUT + 60
    )

    with mock.patch.object(email_verification_token, "_now", return_value=later):
        expired = _verify(**link)

    assert expired.status_code == 400
    assert "token" in expired.json()
    assert not User.objects.get(pk=unverified.pk).is_email_verified
    # The same link, followed in time, works: only the clock made it fail.
    assert _verify(**link).status_code == 200


def test_a_set_password_token_does_not_verify_an_address(unverified):
    response = _verify(uid_for(unverified), password_token.make_token(unverified))

    assert response.status_code == 400
    assert set(response.json()) == {"token"}
    assert not User.objects.get(pk=unverified.pk).is_email_verified


def test_a_token_made_for_one_user_does_not_verify_another(unverified):
    other = User.objects.create_user("other@test.example.com", password=PASSWORD)

    response = _verify(uid_for(other), email_verification_token.make_token(unverified))

    assert response.status_code == 400
    assert set(response.json()) == {"token"}
    assert not User.objects.get(pk=other.pk).is_email_verified


def _b64(value: str) -> str:
    return urlsafe_base64_encode(force_bytes(value))


FORGED_LINKS = {
    "garbage": ("garbage", "garbage"),
    "no user": (_b64("987654321"), "{token}"),
    "zero": (_b64("0"), "{token}"),
    "negative": (_b64("-1"), "{token}"),
    "huge number": (_b64("9" * 40), "{token}"),
    "2**63": (_b64(str(2**63)), "{token}"),
    "not a number": (_b64("abc"), "{token}"),
    "not utf-8": (urlsafe_base64_encode(b"\xff\xfe"), "{token}"),
    "not base64": ("!!!", "{token}"),
    "non-ASCII uid": ("ÿé日本", "{token}"),
    "non-ASCII token": ("{uid}", "日本-é"),
    "non-ASCII timestamp": ("{uid}", "١٢٣-abc"),
    "long timestamp": ("{uid}", "1" * 14 + "-abc"),
    "no dash": ("{uid}", "abcdef"),
    "two dashes": ("{uid}", "a-b-c"),
    "tampered token": ("{uid}", "{token}x"),
    "too long": ("{uid}", "x" * 201),
}


@pytest.mark.parametrize(("uid", "token"), FORGED_LINKS.values(), ids=FORGED_LINKS.keys())
def test_a_forged_verification_link_answers_400(unverified, uid, token):
    real = _verification_token_of(unverified)

    response = _verify(uid.format(**real), token.format(**real))

    assert response.status_code == 400, response.content
    # The right password does not help a forged link, and is not what the answer is about.
    assert set(response.json()) & {"uid", "token"}
    assert "password" not in response.json()
    assert not User.objects.get(pk=unverified.pk).is_email_verified


@pytest.mark.parametrize(
    "body",
    [
        '{"uid": "\\ud800", "token": "\\ud800", "password": "p"}',
        '{"uid": "MQ", "token": "abc-\\ud800", "password": "p"}',
        '{"uid": "\\udfff\\ud800", "token": "1-1", "password": "p"}',
        '{"uid": "MQ", "token": "1-1", "password": "\\ud800abcdefghij"}',
        '{"uid": ["MQ"], "token": {"a": 1}, "password": ["p"]}',
        '{"uid": null, "token": null, "password": null}',
        '{"uid": "", "token": "", "password": ""}',
        "{}",
        "not json",
    ],
)
def test_a_malformed_verification_request_answers_400_not_500(unverified, body):
    response = client_for(None).post(VERIFY_URL, data=body, content_type="application/json")

    assert response.status_code == 400, response.content


# --- pre-registration -------------------------------------------------------------------


VICTIM = "victim@test.example.com"
ATTACKER_PASSWORD = "attackers-own-passphrase-1"
VICTIM_PASSWORD = "victims-own-passphrase-2"


def test_an_attacker_who_registers_someone_elses_address_cannot_log_in(committed):
    with committed():
        _register(VICTIM, ATTACKER_PASSWORD, full_name="Not The Victim")

    response = _login(VICTIM, ATTACKER_PASSWORD)

    assert response.status_code == 400
    assert "token" not in response.json()
    # The verification link went to the victim's mailbox, not to the attacker.
    only_email_to(VICTIM)


def test_the_victim_cannot_activate_the_attackers_password_by_following_the_link(
    committed, browser
):
    with committed():
        _register(VICTIM, ATTACKER_PASSWORD)
    link = verify_link_to(VICTIM)

    # "Someone (hopefully you) signed up": the owner of the mailbox opens the link and, on
    # the page or through a front-end, confirms with the only password they know.
    form_url, opened = open_verify_link(browser, link["path"])
    pressed = browser.post(form_url, {"password": VICTIM_PASSWORD})
    api = _verify(link["uid"], link["token"], VICTIM_PASSWORD)

    assert opened.status_code == 200
    assert 'name="password"' in opened.content.decode()
    assert pressed.status_code == 400
    assert SIGN_UP_PASSWORD in pressed.content.decode()
    assert api.status_code == 400
    assert api.json() == {"password": [SIGN_UP_PASSWORD]}
    assert not User.objects.get(email=VICTIM).is_email_verified
    attacker = _login(VICTIM, ATTACKER_PASSWORD)
    assert attacker.status_code == 400
    assert "token" not in attacker.json()


def test_a_victim_who_signs_up_again_gets_a_set_password_link_that_locks_the_attacker_out(
    committed,
):
    with committed():
        _register(VICTIM, ATTACKER_PASSWORD, full_name="Not The Victim")
    attackers_link = verify_link_to(VICTIM)
    mail.outbox.clear()

    with committed():
        response = _register(VICTIM, VICTIM_PASSWORD, full_name="The Victim")

    assert response.json() == ACCEPTED
    message = only_email_to(VICTIM)
    assert message.subject == "You already have an account"
    link = link_in(message, SET_PASSWORD_LINK)
    # Signing up again did not give the account the victim's password either.
    assert _login(VICTIM, VICTIM_PASSWORD).json() == INVALID_CREDENTIALS

    confirm = client_for(None).post(
        RESET_CONFIRM_URL,
        {"uid": link["uid"], "token": link["token"], "new_password": VICTIM_PASSWORD},
    )

    assert confirm.status_code == 200, confirm.content
    assert _login(VICTIM, VICTIM_PASSWORD).status_code == 200
    assert _login(VICTIM, ATTACKER_PASSWORD).json() == INVALID_CREDENTIALS
    stale = _verify(attackers_link["uid"], attackers_link["token"], ATTACKER_PASSWORD)
    assert stale.status_code == 400
    assert set(stale.json()) == {"token"}


def test_a_victim_who_resets_the_password_of_a_pre_registered_address_locks_the_attacker_out(
    committed,
):
    with committed():
        _register(VICTIM, ATTACKER_PASSWORD)
    mail.outbox.clear()

    with committed():
        client_for(None).post("/api/auth/password-reset/", {"email": VICTIM})
    link = set_password_link_to(VICTIM)
    response = client_for(None).post(
        RESET_CONFIRM_URL,
        {"uid": link["uid"], "token": link["token"], "new_password": VICTIM_PASSWORD},
    )

    assert response.status_code == 200
    assert _login(VICTIM, ATTACKER_PASSWORD).json() == INVALID_CREDENTIALS
    assert _login(VICTIM, VICTIM_PASSWORD).status_code == 200


def test_a_stranger_signing_up_with_an_onboarded_admins_address_takes_nothing_over(committed):
    with committed():
        organization_onboard(name="Boss Co", slug="bossco", admin_email=VICTIM)
    onboarding_link = set_password_link_to(VICTIM)
    mail.outbox.clear()
    before = User.objects.get(email=VICTIM)

    with committed():
        response = _register(VICTIM, ATTACKER_PASSWORD, full_name="Not The Admin")

    assert response.json() == ACCEPTED
    # The admin is told the address is taken; the stranger gets nothing to follow.
    assert only_email_to(VICTIM).subject == "You already have an account"
    after = User.objects.get(email=VICTIM)
    assert after.password == before.password
    assert not after.has_usable_password()
    assert not after.is_email_verified
    assert after.full_name == before.full_name
    assert _login(VICTIM, ATTACKER_PASSWORD).json() == INVALID_CREDENTIALS

    confirm = client_for(None).post(
        RESET_CONFIRM_URL,
        {
            "uid": onboarding_link["uid"],
            "token": onboarding_link["token"],
            "new_password": VICTIM_PASSWORD,
        },
    )

    assert confirm.status_code == 200, confirm.content
    assert _login(VICTIM, VICTIM_PASSWORD).status_code == 200
    assert _login(VICTIM, ATTACKER_PASSWORD).json() == INVALID_CREDENTIALS
