"""Account emails leave on a background thread after the commit: the request never waits on
the mail server (so its timing tells nothing about who has an account), and a failing mail
server is logged, never a 500."""

import threading
import time

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend

from tests.factories import client_for, make_user

pytestmark = pytest.mark.django_db

RELEASE = threading.Event()
SENT = threading.Event()


class BlockingBackend(LocmemBackend):
    """A mail server that answers only when the test says so."""

    def send_messages(self, messages):
        assert RELEASE.wait(timeout=10), "the test never released the mail server"
        count = super().send_messages(messages)
        SENT.set()
        return count


class FailingBackend(LocmemBackend):
    def send_messages(self, messages):
        raise OSError("mail server down")


@pytest.fixture
def in_background(settings):
    settings.EMAIL_IN_BACKGROUND = True
    RELEASE.clear()
    SENT.clear()
    yield
    RELEASE.set()


def test_a_password_reset_answers_before_the_mail_server_does(
    in_background, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.shared_apps.accounts.test_emails.BlockingBackend"
    user = make_user(email="slowmail@test.example.com")

    # Leaving the block runs the after-commit callbacks, as the commit would: they must hand
    # the email over, not wait for the mail server (which would block here until the timeout).
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(None).post(
            "/api/auth/password-reset/", {"email": user.email}, format="json"
        )

    assert response.status_code == 202
    assert not SENT.is_set()  # answered while the mail server still holds the email
    RELEASE.set()
    assert SENT.wait(timeout=10)
    assert [message.to for message in mail.outbox] == [[user.email]]


def test_a_mail_server_that_fails_is_logged_not_a_500(
    in_background, settings, caplog, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.shared_apps.accounts.test_emails.FailingBackend"
    user = make_user(email="downmail@test.example.com")

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(None).post(
            "/api/auth/password-reset/", {"email": user.email}, format="json"
        )

    def logged():
        return any("Could not send set_password" in r.getMessage() for r in caplog.records)

    deadline = time.monotonic() + 10
    while not logged() and time.monotonic() < deadline:  # the sender works on its own thread
        time.sleep(0.01)

    assert response.status_code == 202
    assert logged()


def test_the_verification_email_does_not_carry_the_name_given_at_sign_up(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        client_for(None).post(
            "/api/auth/register/",
            {
                "email": "named@test.example.com",
                "password": "a-long-unusual-passphrase-42",
                "full_name": "Click http://evil.example.com now",
            },
            format="json",
        )

    [message] = mail.outbox
    assert "evil.example.com" not in message.body
