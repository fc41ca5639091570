"""The base-host pages that emailed links open: set a password, confirm an address (with the
password chosen at sign-up). They work in a plain browser (forms, CSRF), and only on the base
host."""

import pytest
from django.test import Client
from knox.models import AuthToken

from shared_apps.accounts.models import User
from shared_apps.accounts.services import SIGN_UP_PASSWORD
from shared_apps.accounts.tokens import email_verification_token, password_token, uid_for
from tests.factories import client_for

from .emailed_links import (
    OTHER_PASSWORD,
    PASSWORD,
    open_verify_link,
    set_password_link_to,
    verify_link_to,
)

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-passphrase-7"
NOT_VALID = "This link is not valid"
DONE_URL = "/accounts/reset/done/"


def _set_password_path(user: User) -> str:
    return f"/accounts/reset/{uid_for(user)}/{password_token.make_token(user)}/"


def _verify_path(user: User) -> str:
    return f"/accounts/verify-email/{uid_for(user)}/{email_verification_token.make_token(user)}/"


def _open_set_password_form(browser: Client, path: str):
    """Follow the emailed link: the page moves the token out of the address bar first."""
    response = browser.get(path)
    assert response.status_code == 302, response.content
    form_url = response["Location"]
    assert path.split("/")[-2] not in form_url  # the token is no longer in the URL
    return form_url, browser.get(form_url)


def _text(response) -> str:
    return " ".join(response.content.decode().split())


def _api_login(email: str, password: str):
    return client_for(None).post("/api/auth/login/", {"email": email, "password": password})


# --- set a password ---------------------------------------------------------------------


def test_the_set_password_link_opens_a_form_for_that_account(browser, verified):
    form_url, response = _open_set_password_form(browser, _set_password_path(verified))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    text = _text(response)
    assert f"Choose a password for <strong>{verified.email}</strong>" in text
    assert 'name="new_password1"' in text and 'name="new_password2"' in text
    assert NOT_VALID not in text
    assert form_url == f"/accounts/reset/{uid_for(verified)}/set-password/"


def test_posting_matching_passwords_sets_it_verifies_the_address_and_ends_api_tokens(
    browser, unverified
):
    _, token = AuthToken.objects.create(user=unverified)
    form_url, _ = _open_set_password_form(browser, _set_password_path(unverified))

    response = browser.post(
        form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )

    assert response.status_code == 302
    assert response["Location"] == DONE_URL
    user = User.objects.get(pk=unverified.pk)
    assert user.check_password(NEW_PASSWORD)
    assert user.is_email_verified
    me = client_for(None)
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert me.get("/api/auth/me/").status_code == 401
    assert _api_login(unverified.email, NEW_PASSWORD).status_code == 200
    done = browser.get(DONE_URL)
    assert done.status_code == 200
    assert "Your password is set" in _text(done)


def test_the_set_password_form_works_with_csrf_checks_on(verified, committed):
    browser = Client(HTTP_HOST="localhost", enforce_csrf_checks=True)
    with committed():
        client_for(None).post("/api/auth/password-reset/", {"email": verified.email})
    link = set_password_link_to(verified.email)
    form_url, form = _open_set_password_form(browser, link["path"])

    response = browser.post(
        form_url,
        {
            "csrfmiddlewaretoken": form.context["csrf_token"],
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )

    assert response.status_code == 302
    assert response["Location"] == DONE_URL
    assert User.objects.get(pk=verified.pk).check_password(NEW_PASSWORD)


def test_a_set_password_form_posted_without_csrf_token_is_refused(verified):
    browser = Client(HTTP_HOST="localhost", enforce_csrf_checks=True)
    form_url, _ = _open_set_password_form(browser, _set_password_path(verified))

    response = browser.post(
        form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )

    assert response.status_code == 403
    assert User.objects.get(pk=verified.pk).check_password(PASSWORD)


@pytest.mark.parametrize(
    ("first", "second", "error"),
    [
        (NEW_PASSWORD, OTHER_PASSWORD, "didn’t match"),
        ("password123", "password123", "too common"),
        ("short", "short", "too short"),
    ],
)
def test_a_refused_password_shows_the_form_again_with_the_reason(
    browser, verified, first, second, error
):
    (_, token) = AuthToken.objects.create(user=verified)
    form_url, _ = _open_set_password_form(browser, _set_password_path(verified))

    response = browser.post(form_url, {"new_password1": first, "new_password2": second})

    assert response.status_code == 200
    assert error in _text(response)
    assert 'name="new_password1"' in _text(response)
    assert User.objects.get(pk=verified.pk).check_password(PASSWORD)
    assert AuthToken.objects.filter(user=verified).exists()


def test_a_set_password_link_works_once(browser, verified):
    path = _set_password_path(verified)
    form_url, _ = _open_set_password_form(browser, path)
    browser.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    again = Client(HTTP_HOST="localhost").get(path)

    assert again.status_code == 200
    assert NOT_VALID in _text(again)
    assert 'name="new_password1"' not in _text(again)
    # Nor can the form URL, still in the first browser's history, be posted again.
    replay = browser.post(
        form_url, {"new_password1": OTHER_PASSWORD, "new_password2": OTHER_PASSWORD}
    )
    assert NOT_VALID in _text(replay)
    assert User.objects.get(pk=verified.pk).check_password(NEW_PASSWORD)


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/reset/garbage/garbage/",
        "/accounts/reset/{uid}/1-deadbeef/",
        "/accounts/reset/OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ/{token}/",
        "/accounts/reset/{uid}/%E6%97%A5%E6%9C%AC-%C3%A9/",
        "/accounts/reset/%C3%BF%C3%A9/{token}/",
        "/accounts/reset/{uid}/set-password/",
    ],
    ids=["garbage", "wrong token", "huge uid", "non-ASCII token", "non-ASCII uid", "no session"],
)
def test_an_invalid_set_password_link_says_it_is_not_valid(browser, verified, path):
    real = {"uid": uid_for(verified), "token": password_token.make_token(verified)}

    response = browser.get(path.format(**real))

    assert response.status_code == 200
    assert NOT_VALID in _text(response)
    assert 'name="new_password1"' not in _text(response)


def test_a_set_password_link_of_a_deactivated_account_is_not_valid(browser, deactivated):
    response = browser.get(_set_password_path(deactivated))

    assert response.status_code == 200
    assert NOT_VALID in _text(response)


# --- confirm an address -----------------------------------------------------------------


def test_opening_the_verification_link_asks_for_the_password_and_verifies_nothing(
    browser, unverified
):
    _, response = open_verify_link(browser, _verify_path(unverified))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    text = _text(response)
    assert (
        f"Enter the password you chose when signing up to confirm that "
        f"<strong>{unverified.email}</strong> is your address"
    ) in text
    assert '<form method="post">' in text
    assert '<input type="password" name="password"' in text
    assert 'value="Confirm my email address"' in text
    assert not User.objects.get(pk=unverified.pk).is_email_verified
    assert _api_login(unverified.email, PASSWORD).status_code == 400


def test_opening_the_verification_link_takes_its_token_out_of_the_address_bar(browser, unverified):
    uid, token = uid_for(unverified), email_verification_token.make_token(unverified)
    link = f"/accounts/verify-email/{uid}/{token}/"

    opened = browser.get(link)
    form_url, page = open_verify_link(browser, link)

    assert opened.status_code == 302
    assert form_url == f"/accounts/verify-email/{uid}/confirm/"
    assert page.request["PATH_INFO"] == form_url  # the URL the browser ends on
    assert token not in form_url and "confirm" in form_url
    assert token not in page.content.decode()  # nor in the page (a form action, a link)
    # Never cached: neither the redirect nor the form stays in a shared or back-button cache.
    assert "no-store" in opened["Cache-Control"]
    assert "no-store" in page["Cache-Control"]


def test_confirming_with_the_sign_up_password_verifies_the_address(browser, unverified):
    form_url, _ = open_verify_link(browser, _verify_path(unverified))

    response = browser.post(form_url, {"password": PASSWORD})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert f"<strong>{unverified.email}</strong> is confirmed" in _text(response)
    assert User.objects.get(pk=unverified.pk).is_email_verified
    assert _api_login(unverified.email, PASSWORD).status_code == 200


@pytest.mark.parametrize("sent", [{"password": OTHER_PASSWORD}, {}], ids=["wrong", "missing"])
def test_confirming_without_the_sign_up_password_shows_the_form_again_and_verifies_nothing(
    browser, unverified, sent
):
    form_url, _ = open_verify_link(browser, _verify_path(unverified))

    response = browser.post(form_url, sent)

    assert response.status_code == 400
    text = _text(response)
    assert SIGN_UP_PASSWORD in text
    assert 'name="password"' in text
    assert f"<strong>{unverified.email}</strong> is confirmed" not in text
    assert not User.objects.get(pk=unverified.pk).is_email_verified
    assert _api_login(unverified.email, PASSWORD).status_code == 400
    # The link is not used up: the right password, on the same form, still confirms.
    assert browser.post(form_url, {"password": PASSWORD}).status_code == 200
    assert User.objects.get(pk=unverified.pk).is_email_verified


def test_the_confirm_form_needs_the_browser_that_opened_the_link(browser, unverified):
    form_url, _ = open_verify_link(browser, _verify_path(unverified))
    other = Client(HTTP_HOST="localhost")  # no session: never opened the link

    shown = other.get(form_url)
    pressed = other.post(form_url, {"password": PASSWORD})

    assert shown.status_code == 200
    assert NOT_VALID in _text(shown)
    assert 'name="password"' not in _text(shown)
    assert pressed.status_code == 400
    assert NOT_VALID in _text(pressed)
    assert not User.objects.get(pk=unverified.pk).is_email_verified
    # The browser that opened the link still can.
    assert browser.post(form_url, {"password": PASSWORD}).status_code == 200


def test_the_emailed_verification_link_works_in_a_browser_with_csrf_checks_on(committed):
    browser = Client(HTTP_HOST="localhost", enforce_csrf_checks=True)
    with committed():
        client_for(None).post(
            "/api/auth/register/", {"email": "new@test.example.com", "password": PASSWORD}
        )
    link = verify_link_to("new@test.example.com")
    form_url, page = open_verify_link(browser, link["path"])

    response = browser.post(
        form_url, {"csrfmiddlewaretoken": page.context["csrf_token"], "password": PASSWORD}
    )

    assert response.status_code == 200
    assert User.objects.get(email="new@test.example.com").is_email_verified


def test_a_verification_form_posted_without_csrf_token_is_refused(unverified):
    browser = Client(HTTP_HOST="localhost", enforce_csrf_checks=True)
    form_url, page = open_verify_link(browser, _verify_path(unverified))
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()

    response = browser.post(form_url, {"password": PASSWORD})

    assert response.status_code == 403
    assert not User.objects.get(pk=unverified.pk).is_email_verified


def test_a_used_verification_link_says_it_is_not_valid(browser, unverified):
    path = _verify_path(unverified)
    form_url, _ = open_verify_link(browser, path)
    assert browser.post(form_url, {"password": PASSWORD}).status_code == 200

    replayed = browser.post(form_url, {"password": PASSWORD})
    form_url, opened = open_verify_link(browser, path)
    pressed = browser.post(form_url, {"password": PASSWORD})

    assert replayed.status_code == 400
    assert NOT_VALID in _text(replayed)
    assert opened.status_code == 200
    assert NOT_VALID in _text(opened)
    assert "Confirm my email address" not in _text(opened)
    assert pressed.status_code == 400
    assert NOT_VALID in _text(pressed)
    assert 'name="password"' not in _text(pressed)


@pytest.mark.parametrize(
    "path",
    [
        "/accounts/verify-email/garbage/garbage/",
        "/accounts/verify-email/{uid}/1-deadbeef/",
        "/accounts/verify-email/OTk5OTk5OTk5OTk5OTk5OTk5OTk5OQ/{token}/",
        "/accounts/verify-email/{uid}/%E6%97%A5%E6%9C%AC-%C3%A9/",
        "/accounts/verify-email/%C3%BF%C3%A9/{token}/",
        "/accounts/verify-email/{uid}/%ED%A0%80/",
    ],
    ids=["garbage", "wrong token", "huge uid", "non-ASCII token", "non-ASCII uid", "surrogate"],
)
def test_an_invalid_verification_link_says_it_is_not_valid(browser, unverified, path):
    path = path.format(
        uid=uid_for(unverified), token=email_verification_token.make_token(unverified)
    )

    form_url, opened = open_verify_link(browser, path)
    pressed = browser.post(form_url, {"password": PASSWORD})

    assert opened.status_code == 200
    assert NOT_VALID in _text(opened)
    assert 'name="password"' not in _text(opened)
    assert pressed.status_code == 400
    assert NOT_VALID in _text(pressed)
    assert not User.objects.get(pk=unverified.pk).is_email_verified


def test_posting_the_confirm_form_without_opening_a_link_is_not_valid(browser, unverified):
    form_url = f"/accounts/verify-email/{uid_for(unverified)}/confirm/"

    shown = browser.get(form_url)
    pressed = browser.post(form_url, {"password": PASSWORD})

    assert shown.status_code == 200
    assert NOT_VALID in _text(shown)
    assert pressed.status_code == 400
    assert NOT_VALID in _text(pressed)
    assert 'name="password"' not in _text(pressed)
    assert not User.objects.get(pk=unverified.pk).is_email_verified


# --- only on the base host --------------------------------------------------------------


@pytest.mark.parametrize("page", ["reset", "verify-email"])
def test_the_pages_do_not_exist_on_organization_hosts(acme, unverified, page):
    path = (_set_password_path if page == "reset" else _verify_path)(unverified)
    tenant = Client(HTTP_HOST="acme.localhost")

    assert tenant.get(path).status_code == 404
    assert tenant.post(path, {"password": PASSWORD}).status_code == 404
    assert tenant.get(DONE_URL).status_code == 404
    assert not User.objects.get(pk=unverified.pk).is_email_verified
