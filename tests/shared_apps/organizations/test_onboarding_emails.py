"""Staff onboarding is trusted but self-serve after: a first admin without a password is emailed
a single-use, expiring set-password link (admin form and command), and can then start alone."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Membership, Role
from tests.factories import client_for, make_user

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/organizations/organization/add/"
USERS_URL = "/admin/accounts/user/"
RESET_LINK = re.compile(r"http://localhost:8000(/accounts/reset/[^/\s]+/[^/\s]+/)")
PASSWORD = "a-long-unusual-passphrase-42"


def onboard(staff_client, slug, admin_email, capture):
    with capture(execute=True):
        return staff_client.post(
            ADD_URL, {"name": slug.title(), "slug": slug, "admin_email": admin_email}, follow=True
        )


def set_password_through_the_page(path: str, password: str = PASSWORD):
    """Follow the emailed link as a browser would: the page, then the form."""
    browser = Client(HTTP_HOST="localhost")
    form_page = browser.get(path, follow=True)
    assert form_page.status_code == 200
    assert b"new_password1" in form_page.content
    return browser.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": password, "new_password2": password},
        follow=True,
    )


def test_a_new_first_admin_is_emailed_a_set_password_link_and_starts_alone(
    staff_client, django_capture_on_commit_callbacks, mailoutbox, settings
):
    settings.SITE_PORT = "8000"
    response = onboard(
        staff_client, "umbrella", "ada@umbrella.example.com", django_capture_on_commit_callbacks
    )

    messages = [str(message) for message in response.context["messages"]]
    assert any("ada@umbrella.example.com" in m and "emailed" in m for m in messages), messages
    [email] = mailoutbox
    assert email.to == ["ada@umbrella.example.com"]
    assert email.subject == "Set your password"
    assert "first admin of Umbrella" in email.body
    path = RESET_LINK.search(email.body).group(1)

    done = set_password_through_the_page(path)

    assert done.redirect_chain[-1][0] == "/accounts/reset/done/"
    assert b"Your password is set" in done.content
    user = User.objects.get(email="ada@umbrella.example.com")
    assert user.check_password(PASSWORD) and user.is_email_verified
    login = client_for(None).post(
        "/api/auth/login/", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert login.status_code == 200
    api = client_for(None, Membership.objects.get(user=user).organization)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['token']}")
    tasks = api.get("/api/tasks/")
    assert tasks.status_code == 200 and tasks.json()["results"] == []
    # The link works once.
    again = Client(HTTP_HOST="localhost").get(path, follow=True)
    assert b"This link is not valid" in again.content


def test_a_first_admin_who_has_a_password_gets_no_email(
    staff_client, django_capture_on_commit_callbacks, mailoutbox
):
    existing = make_user(email="has.pw@test.example.com", password="their-own-password-55")

    response = onboard(staff_client, "wayne", existing.email, django_capture_on_commit_callbacks)

    assert mailoutbox == []
    assert Membership.objects.get(user=existing).role == Role.ADMIN
    messages = [str(message) for message in response.context["messages"]]
    assert any("first ADMIN" in m for m in messages), messages


def test_a_failed_onboarding_sends_no_email(
    staff_client, django_capture_on_commit_callbacks, mailoutbox
):
    onboard(staff_client, "www", "nobody@test.example.com", django_capture_on_commit_callbacks)

    assert mailoutbox == []
    assert not User.objects.filter(email="nobody@test.example.com").exists()


def test_staff_resend_the_link_from_the_user_admin(
    staff_client, django_capture_on_commit_callbacks, mailoutbox
):
    onboard(staff_client, "stark", "tony@stark.example.com", django_capture_on_commit_callbacks)
    user = User.objects.get(email="tony@stark.example.com")
    first_path = RESET_LINK.search(mailoutbox[0].body).group(1)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            USERS_URL,
            {"action": "send_password_link", "_selected_action": [user.pk]},
            follow=True,
        )

    assert response.status_code == 200
    assert len(mailoutbox) == 2 and mailoutbox[1].to == [user.email]
    messages = [str(message) for message in response.context["messages"]]
    assert any("Emailed a set-password link to tony@stark.example.com" in m for m in messages)
    # Either link sets the password once (both were made for the same password state).
    set_password_through_the_page(first_path)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    second_path = RESET_LINK.search(mailoutbox[1].body).group(1)
    again = Client(HTTP_HOST="localhost").get(second_path, follow=True)
    assert b"This link is not valid" in again.content


def test_create_org_emails_the_new_first_admin_and_says_so(
    django_capture_on_commit_callbacks, mailoutbox
):
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "create_org",
            "--name",
            "Gamma",
            "--slug",
            "gamma",
            "--admin-email",
            "g@gamma.example.com",
            stdout=out,
        )

    assert "g@gamma.example.com has no password yet: emailed a link to set one." in out.getvalue()
    [email] = mailoutbox
    assert email.to == ["g@gamma.example.com"]
    assert RESET_LINK.search(email.body)


def test_a_first_admin_who_never_verified_their_address_is_emailed_a_link(
    staff_client, django_capture_on_commit_callbacks, mailoutbox
):
    # Signed up (a password) but never confirmed: they could not log in without the link.
    user = make_user(email="unconfirmed@test.example.com", password="their-own-password-55")
    User.objects.filter(pk=user.pk).update(email_verified_at=None)

    response = onboard(staff_client, "tyrell", user.email, django_capture_on_commit_callbacks)

    [email] = mailoutbox
    assert email.to == [user.email] and RESET_LINK.search(email.body)
    messages = [str(message) for message in response.context["messages"]]
    assert any("emailed" in m for m in messages), messages
