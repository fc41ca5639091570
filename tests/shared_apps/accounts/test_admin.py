"""Staff manage accounts in the admin: email someone a set-password link, create verified
accounts by hand."""

import pytest
from django.core import mail
from django.test import Client

from shared_apps.accounts.models import User
from tests.factories import client_for, make_user

from .emailed_links import PASSWORD, set_password_link_to

pytestmark = pytest.mark.django_db

USERS_URL = "/admin/accounts/user/"
ADD_USER_URL = f"{USERS_URL}add/"
NEW_PASSWORD = "a-brand-new-passphrase-7"


def _send_password_links(staff_client, *users):
    return staff_client.post(
        USERS_URL,
        {"action": "send_password_link", "_selected_action": [user.pk for user in users]},
        follow=True,
    )


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_send_password_link_action_emails_a_working_link(staff_client, committed):
    user = make_user(email="linked@test.example.com")

    with committed():
        response = _send_password_links(staff_client, user)

    assert response.status_code == 200
    assert _messages(response) == [f"Emailed a set-password link to {user.email}."]
    link = set_password_link_to(user.email)
    assert mail.outbox[0].subject == "Set your password"
    confirm = client_for(None).post(
        "/api/auth/password-reset/confirm/",
        {"uid": link["uid"], "token": link["token"], "new_password": NEW_PASSWORD},
    )
    assert confirm.status_code == 200
    login = client_for(None).post(
        "/api/auth/login/", {"email": user.email, "password": NEW_PASSWORD}
    )
    assert login.status_code == 200


def test_a_user_with_a_password_is_emailed_a_reset_link(staff_client, committed, verified):
    with committed():
        _send_password_links(staff_client, verified)

    set_password_link_to(verified.email)
    assert mail.outbox[0].subject == "Reset your password"
    assert User.objects.get(pk=verified.pk).check_password(PASSWORD)


def test_the_action_skips_deactivated_accounts_and_says_so(
    staff_client, committed, verified, deactivated
):
    with committed():
        response = _send_password_links(staff_client, verified, deactivated)

    assert sorted(_messages(response)) == sorted(
        [
            f"{deactivated.email}: This account is deactivated.",
            f"Emailed a set-password link to {verified.email}.",
        ]
    )
    set_password_link_to(verified.email)


def test_only_staff_can_run_the_action(committed, verified):
    outsider = Client(HTTP_HOST="localhost")
    outsider.force_login(verified)

    with committed():
        response = _send_password_links(outsider, verified)

    assert response.redirect_chain[0][0].startswith("/admin/login/")
    assert mail.outbox == []


def test_a_user_created_in_the_admin_is_verified_and_can_log_in(staff_client):
    response = staff_client.post(
        ADD_USER_URL,
        {
            "email": "hand.made@test.example.com",
            "full_name": "Hand Made",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )

    assert response.status_code == 302, response.content
    user = User.objects.get(email="hand.made@test.example.com")
    assert user.is_email_verified
    assert user.full_name == "Hand Made"
    assert not user.is_staff
    login = client_for(None).post(
        "/api/auth/login/", {"email": user.email, "password": NEW_PASSWORD}
    )
    assert login.status_code == 200


def test_an_admin_created_address_is_stored_lower_cased_like_every_other(staff_client):
    response = staff_client.post(
        ADD_USER_URL,
        {
            "email": "Mixed.Case@Test.Example.COM",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )

    assert response.status_code == 302, response.content
    assert User.objects.filter(email="mixed.case@test.example.com").exists()


def test_the_admin_refuses_an_address_taken_in_another_case(staff_client, verified):
    response = staff_client.post(
        ADD_USER_URL,
        {"email": verified.email.upper(), "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assert User.objects.filter(email__iexact=verified.email).count() == 1
