"""Invitations: ADMINs invite by email on the organization's host (list, resend, revoke), and the
invited person accepts on the base host, signed in or with the emailed token."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from shared_apps.accounts.models import User
from shared_apps.accounts.services import user_create
from shared_apps.organizations.models import Invitation, Membership, Role
from shared_apps.organizations.services import (
    ACCOUNT_PASSWORD_NEEDED,
    INVITATION_EXPIRED,
    INVITATION_NOT_VALID,
    INVITATION_USED,
    INVITEE_ALREADY_MEMBER,
    invitation_create,
    organization_set_active,
)
from tests.factories import client_for, make_member, make_user

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-passphrase-42"
INVITATION_FIELDS = {"id", "email", "role", "invited_by", "created_at", "expires_at"}
TOKEN_LINK = re.compile(r"/accounts/invitations/([A-Za-z0-9_-]+)/")


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """Run a request and let its after-commit emails go out; returns the response."""

    def run(call, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run


def invite(send, organization, admin, email, role="MEMBER"):
    return send(
        client_for(admin, organization).post,
        "/api/members/",
        {"email": email, "role": role},
        format="json",
    )


def token_from(message) -> str:
    return TOKEN_LINK.search(message.body).group(1)


def accept_with_token(token, password=PASSWORD, **extra):
    # json.dumps escapes non-ASCII (lone surrogates included) as a real client's JSON would.
    return client_for(None).post(
        "/api/auth/invitations/accept/",
        json.dumps({"token": token, "password": password, **extra}),
        content_type="application/json",
    )


def role_in(organization, user) -> str | None:
    membership = Membership.objects.filter(organization=organization, user=user).first()
    return membership.role if membership else None


# --- Inviting -----------------------------------------------------------------------------------


def test_inviting_creates_a_pending_invitation_and_emails_a_link(
    send, acme, acme_admin, mailoutbox
):
    response = invite(send, acme, acme_admin, "New.Hire@Test.Example.com", "MANAGER")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == INVITATION_FIELDS
    assert body["email"] == "new.hire@test.example.com"
    assert body["role"] == "MANAGER"
    assert body["invited_by"]["id"] == acme_admin.id
    invitation = Invitation.objects.get(pk=body["id"])
    assert invitation.organization == acme and invitation.accepted_at is None
    assert not Membership.objects.filter(organization=acme, user__email=body["email"]).exists()
    [message] = mailoutbox
    assert message.to == ["new.hire@test.example.com"]
    assert "Acme Corp" in message.subject
    assert "http://localhost:8000/accounts/invitations/" in message.body
    # Stored hashed: the emailed token is nowhere in the database.
    token = token_from(message)
    assert token not in invitation.token_hash
    assert invitation.token_hash == Invitation.hash_token(token)


def test_the_answer_is_the_same_whether_or_not_the_email_has_an_account(send, acme, acme_admin):
    existing = make_user(email="has.account@test.example.com")

    with_account = invite(send, acme, acme_admin, existing.email).json()
    without_account = invite(send, acme, acme_admin, "no.account@test.example.com").json()

    assert set(with_account) == set(without_account) == INVITATION_FIELDS
    assert with_account["role"] == without_account["role"]
    assert not Membership.objects.filter(organization=acme, user=existing).exists()


def test_invitations_expire_after_the_configured_hours(send, acme, acme_admin, settings):
    settings.INVITATION_TTL_HOURS = 5
    before = timezone.now()

    response = invite(send, acme, acme_admin, "ttl@test.example.com")

    expires_at = Invitation.objects.get(pk=response.json()["id"]).expires_at
    assert before + timedelta(hours=5) <= expires_at <= timezone.now() + timedelta(hours=5)


def test_inviting_a_member_is_a_400_that_reveals_nothing_else(send, acme, acme_admin, acme_member):
    response = invite(send, acme, acme_admin, acme_member.email.upper())

    assert response.status_code == 400
    assert response.json() == {"email": [INVITEE_ALREADY_MEMBER]}
    assert not Invitation.objects.filter(organization=acme).exists()


def test_inviting_the_same_address_again_renews_its_one_invitation(
    send, acme, acme_admin, mailoutbox
):
    first = invite(send, acme, acme_admin, "twice@test.example.com", "MEMBER").json()
    old_token = token_from(mailoutbox[0])

    second = invite(send, acme, acme_admin, "TWICE@test.example.com", "MANAGER").json()

    assert second["id"] == first["id"]
    assert second["role"] == "MANAGER"
    assert Invitation.objects.filter(organization=acme).count() == 1
    assert accept_with_token(old_token).status_code == 400  # the old link was replaced


@pytest.mark.parametrize("role", ["OWNER", "admin", "", None])
def test_an_invalid_role_is_refused(send, acme, acme_admin, role):
    response = invite(send, acme, acme_admin, "role@test.example.com", role)

    assert response.status_code == 400
    assert list(response.json()) == ["role"]
    assert not Invitation.objects.exists()


def test_an_invalid_email_is_refused(send, acme, acme_admin):
    response = invite(send, acme, acme_admin, "not-an-email")

    assert response.status_code == 400
    assert list(response.json()) == ["email"]


def test_inviting_ignores_organization_id_and_user_in_the_body(send, acme, globex, acme_admin):
    someone_else = make_user()

    response = send(
        client_for(acme_admin, acme).post,
        "/api/members/",
        {
            "email": "mass@test.example.com",
            "role": "MEMBER",
            "organization": globex.id,
            "id": 1,
            "user": someone_else.id,
            "invited_by": someone_else.id,
            "expires_at": "2099-01-01T00:00:00Z",
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    invitation = Invitation.objects.get(pk=response.json()["id"])
    assert invitation.organization == acme
    assert invitation.invited_by == acme_admin
    assert invitation.expires_at < timezone.now() + timedelta(days=30)
    assert not Invitation.objects.filter(organization=globex).exists()
    assert not Membership.objects.filter(user=someone_else).exists()


def test_a_failed_invitation_sends_no_email(send, acme, acme_admin, acme_member, mailoutbox):
    invite(send, acme, acme_admin, acme_member.email)

    assert mailoutbox == []


# --- Listing, resending, revoking --------------------------------------------------------------


def test_admins_list_the_pending_invitations_expired_ones_included(send, acme, globex, acme_admin):
    open_one = invitation_create(
        organization=acme, email="open@test.example.com", role=Role.MEMBER, invited_by=acme_admin
    )
    expired = invitation_create(
        organization=acme, email="old@test.example.com", role=Role.MEMBER, invited_by=acme_admin
    )
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    accepted = invitation_create(
        organization=acme, email="done@test.example.com", role=Role.MEMBER, invited_by=None
    )
    Invitation.objects.filter(pk=accepted.pk).update(accepted_at=timezone.now())
    invitation_create(
        organization=globex, email="other@test.example.com", role=Role.MEMBER, invited_by=None
    )

    response = client_for(acme_admin, acme).get("/api/invitations/")

    assert response.status_code == 200
    # Newest first; accepted ones and other organizations' never.
    assert [row["id"] for row in response.json()["results"]] == [expired.id, open_one.id]
    assert set(response.json()["results"][0]) == INVITATION_FIELDS


def test_an_expired_invitation_can_be_resent_and_then_accepted(send, acme, acme_admin, mailoutbox):
    created = invite(send, acme, acme_admin, "expired@test.example.com").json()
    Invitation.objects.filter(pk=created["id"]).update(expires_at=timezone.now())
    assert accept_with_token(token_from(mailoutbox[0])).json() == {"token": [INVITATION_EXPIRED]}

    response = send(client_for(acme_admin, acme).post, f"/api/invitations/{created['id']}/resend/")

    assert response.status_code == 200
    assert accept_with_token(token_from(mailoutbox[1])).status_code == 200


def test_an_expired_invitation_can_be_revoked(send, acme, acme_admin):
    created = invite(send, acme, acme_admin, "gone@test.example.com").json()
    Invitation.objects.filter(pk=created["id"]).update(expires_at=timezone.now())

    response = client_for(acme_admin, acme).delete(f"/api/invitations/{created['id']}/")

    assert response.status_code == 204
    assert not Invitation.objects.filter(pk=created["id"]).exists()


def test_resending_replaces_the_token(send, acme, acme_admin, mailoutbox):
    created = invite(send, acme, acme_admin, "resend@test.example.com").json()
    old_token = token_from(mailoutbox[0])

    response = send(client_for(acme_admin, acme).post, f"/api/invitations/{created['id']}/resend/")

    assert response.status_code == 200
    assert response.json()["id"] == created["id"]
    assert len(mailoutbox) == 2
    new_token = token_from(mailoutbox[1])
    assert new_token != old_token
    assert accept_with_token(old_token).status_code == 400
    assert accept_with_token(new_token).status_code == 200


def test_revoking_deletes_the_invitation_and_its_link(send, acme, acme_admin, mailoutbox):
    created = invite(send, acme, acme_admin, "revoke@test.example.com").json()

    response = client_for(acme_admin, acme).delete(f"/api/invitations/{created['id']}/")

    assert response.status_code == 204
    assert not Invitation.objects.filter(pk=created["id"]).exists()
    response = accept_with_token(token_from(mailoutbox[0]))
    assert response.status_code == 400
    assert response.json() == {"token": [INVITATION_NOT_VALID]}


def test_another_organizations_invitation_is_not_found(acme, globex, acme_admin):
    theirs = invitation_create(
        organization=globex, email="g@test.example.com", role=Role.MEMBER, invited_by=None
    )
    client = client_for(acme_admin, acme)

    assert client.delete(f"/api/invitations/{theirs.id}/").status_code == 404
    assert client.post(f"/api/invitations/{theirs.id}/resend/").status_code == 404
    assert Invitation.objects.filter(pk=theirs.pk).exists()


# --- Accepting while signed in -----------------------------------------------------------------


def test_a_signed_in_user_sees_and_accepts_their_invitation(acme, acme_admin):
    user = make_user(email="joiner@test.example.com")
    invitation = invitation_create(
        organization=acme, email="Joiner@Test.Example.com", role=Role.MANAGER, invited_by=acme_admin
    )
    client = client_for(user)

    me = client.get("/api/auth/me/").json()
    assert me["organizations"] == []
    [shown] = me["invitations"]
    assert shown["id"] == invitation.id
    assert shown["organization"] == {"slug": "acme", "name": "Acme Corp", "domain": acme.domain}
    assert shown["role"] == "MANAGER"
    assert shown["invited_by"]["email"] == acme_admin.email

    response = client.post(f"/api/auth/invitations/{invitation.id}/accept/")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "slug": "acme",
        "name": "Acme Corp",
        "domain": acme.domain,
        "role": "MANAGER",
    }
    assert role_in(acme, user) == Role.MANAGER
    me = client.get("/api/auth/me/").json()
    assert me["invitations"] == []
    assert [org["slug"] for org in me["organizations"]] == ["acme"]
    # The new member works on the organization's host right away.
    assert client_for(user, acme).get("/api/tasks/").status_code == 200


def test_a_user_cannot_accept_an_invitation_sent_to_someone_else(acme):
    intruder = make_user()
    invitation = invitation_create(
        organization=acme, email="victim@test.example.com", role=Role.ADMIN, invited_by=None
    )

    response = client_for(intruder).post(f"/api/auth/invitations/{invitation.id}/accept/")

    assert response.status_code == 404
    assert role_in(acme, intruder) is None
    assert Invitation.objects.get(pk=invitation.pk).accepted_at is None


def test_an_expired_invitation_is_not_listed_nor_accepted(acme):
    user = make_user()
    invitation = invitation_create(
        organization=acme, email=user.email, role=Role.MEMBER, invited_by=None
    )
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now())
    client = client_for(user)

    assert client.get("/api/auth/me/").json()["invitations"] == []
    assert client.post(f"/api/auth/invitations/{invitation.id}/accept/").status_code == 404
    assert role_in(acme, user) is None


def test_an_invitation_of_a_deactivated_organization_cannot_be_accepted(acme):
    user = make_user()
    invitation = invitation_create(
        organization=acme, email=user.email, role=Role.MEMBER, invited_by=None
    )
    organization_set_active(organization=acme, is_active=False)

    assert client_for(user).get("/api/auth/me/").json()["invitations"] == []
    assert (
        client_for(user).post(f"/api/auth/invitations/{invitation.id}/accept/").status_code == 404
    )
    assert role_in(acme, user) is None


def test_accepting_when_already_a_member_keeps_the_role_and_spends_the_invitation(acme):
    user = make_member(acme, Role.MEMBER)
    invitation = invitation_create(
        organization=acme, email="later@test.example.com", role=Role.ADMIN, invited_by=None
    )
    User.objects.filter(pk=user.pk).update(email="later@test.example.com")
    user.refresh_from_db()

    response = client_for(user).post(f"/api/auth/invitations/{invitation.id}/accept/")

    assert response.status_code == 200
    assert response.json()["role"] == "MEMBER"
    assert role_in(acme, user) == Role.MEMBER
    assert Invitation.objects.get(pk=invitation.pk).accepted_at is not None


# --- Accepting with the emailed token ----------------------------------------------------------


def test_a_person_without_an_account_accepts_with_the_token_and_a_password(
    send, acme, acme_admin, mailoutbox
):
    invite(send, acme, acme_admin, "fresh@test.example.com", "MANAGER")

    response = accept_with_token(token_from(mailoutbox[0]), full_name="Fresh Person")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"token", "expires_at", "organization"}
    assert body["organization"]["slug"] == "acme" and body["organization"]["role"] == "MANAGER"
    user = User.objects.get(email="fresh@test.example.com")
    assert user.full_name == "Fresh Person"
    assert user.is_email_verified and user.check_password(PASSWORD)
    assert role_in(acme, user) == Role.MANAGER
    # The returned token works, and so does logging in with the new password.
    api = client_for(None, acme)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert api.get("/api/tasks/").status_code == 200
    login = client_for(None).post(
        "/api/auth/login/", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert login.status_code == 200


def test_the_token_works_once(send, acme, acme_admin, mailoutbox):
    invite(send, acme, acme_admin, "once@test.example.com")
    token = token_from(mailoutbox[0])
    assert accept_with_token(token).status_code == 200

    response = accept_with_token(token)

    assert response.status_code == 400
    assert response.json() == {"token": [INVITATION_USED]}


def test_an_expired_token_is_refused(send, acme, acme_admin, mailoutbox):
    created = invite(send, acme, acme_admin, "late@test.example.com").json()
    Invitation.objects.filter(pk=created["id"]).update(expires_at=timezone.now())

    response = accept_with_token(token_from(mailoutbox[0]))

    assert response.status_code == 400
    assert response.json() == {"token": [INVITATION_EXPIRED]}
    assert not User.objects.filter(email="late@test.example.com").exists()


@pytest.mark.parametrize("token", ["wrong", "x" * 200, "é" * 10])
def test_a_wrong_token_is_a_clear_400(token):
    response = accept_with_token(token)

    assert response.status_code == 400
    assert response.json() == {"token": [INVITATION_NOT_VALID]}


@pytest.mark.parametrize("token", ["\ud800", "x" * 201, "", None, 12])
def test_a_malformed_token_is_a_400_naming_it(token):
    response = accept_with_token(token)

    assert response.status_code == 400
    assert list(response.json()) == ["token"]


def test_a_weak_password_is_refused_and_nothing_is_created(send, acme, acme_admin, mailoutbox):
    invite(send, acme, acme_admin, "weak@test.example.com")

    response = accept_with_token(token_from(mailoutbox[0]), password="password")

    assert response.status_code == 400
    assert list(response.json()) == ["password"]
    assert not User.objects.filter(email="weak@test.example.com").exists()
    assert Invitation.objects.get(email="weak@test.example.com").accepted_at is None


def test_an_account_without_a_password_gets_one_by_accepting(send, acme, acme_admin, mailoutbox):
    user = user_create(email="nopass@test.example.com", password=None)
    invite(send, acme, acme_admin, user.email)

    response = accept_with_token(token_from(mailoutbox[0]))

    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(PASSWORD) and user.is_email_verified
    assert role_in(acme, user) == Role.MEMBER


def test_a_stranger_who_pre_registered_the_address_loses_it_when_the_owner_accepts(
    send, acme, acme_admin, mailoutbox
):
    # Someone signed up with the invitee's address (unverified, so they cannot log in).
    client_for(None).post(
        "/api/auth/register/",
        {"email": "owner@test.example.com", "password": "stranger-password-77"},
        format="json",
    )
    invite(send, acme, acme_admin, "owner@test.example.com")

    response = accept_with_token(token_from(mailoutbox[-1]))

    assert response.status_code == 200
    user = User.objects.get(email="owner@test.example.com")
    assert user.check_password(PASSWORD)
    assert not user.check_password("stranger-password-77")


def test_an_account_with_a_password_must_give_it(send, acme, acme_admin, mailoutbox):
    user = make_user(email="known@test.example.com", password="the-real-password-99")
    invite(send, acme, acme_admin, user.email)
    token = token_from(mailoutbox[0])

    wrong = accept_with_token(token, password="some-other-password-11")
    assert wrong.status_code == 400
    assert wrong.json() == {"password": [ACCOUNT_PASSWORD_NEEDED]}
    assert role_in(acme, user) is None

    right = accept_with_token(token, password="the-real-password-99")
    assert right.status_code == 200
    assert role_in(acme, user) == Role.MEMBER
    user.refresh_from_db()
    assert user.check_password("the-real-password-99")


def test_a_deactivated_account_cannot_accept(send, acme, acme_admin, mailoutbox):
    user = make_user(email="gone@test.example.com")
    invite(send, acme, acme_admin, user.email)
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = accept_with_token(token_from(mailoutbox[0]))

    assert response.status_code == 400
    assert role_in(acme, user) is None


def test_an_invitation_grants_only_its_own_organization_and_role(
    send, acme, globex, acme_admin, mailoutbox
):
    invite(send, acme, acme_admin, "scoped@test.example.com", "MEMBER")

    body = accept_with_token(token_from(mailoutbox[0])).json()

    user = User.objects.get(email="scoped@test.example.com")
    assert list(Membership.objects.filter(user=user).values_list("organization__slug", "role")) == [
        ("acme", "MEMBER")
    ]
    api = client_for(None, globex)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert api.get("/api/tasks/").status_code == 403


def test_with_a_front_end_the_link_opens_it_and_its_token_works_in_the_api(
    send, acme, acme_admin, mailoutbox, settings
):
    settings.FRONTEND_URL = "https://app.example.com"

    invite(send, acme, acme_admin, "spa@test.example.com")

    match = re.search(
        r"https://app\.example\.com/accept-invitation\?token=(\S+)", mailoutbox[0].body
    )
    assert match, mailoutbox[0].body
    assert accept_with_token(match.group(1)).status_code == 200


def test_options_tells_an_admin_what_inviting_takes(acme, acme_admin):
    response = client_for(acme_admin, acme).options("/api/members/")

    assert response.status_code == 200
    assert set(response.json()["actions"]["POST"]) == {"email", "role"}
