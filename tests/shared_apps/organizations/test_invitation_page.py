"""The page an emailed invitation opens on the base host: it shows the invitation and accepts it
with a password, through the same service as the API."""

import pytest
from django.test import Client
from django.utils import timezone

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Invitation, Membership, Role
from shared_apps.organizations.services import organization_set_active
from tests.factories import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-passphrase-42"
TOKEN = "page-token-0123456789abcdefghijklmnopqrstuv"


@pytest.fixture
def invitation(acme, acme_admin) -> Invitation:
    """An open invitation of acme for new.person@, whose emailed token is TOKEN."""
    return Invitation.objects.create(
        organization=acme,
        email="new.person@test.example.com",
        role=Role.MANAGER,
        invited_by=acme_admin,
        token_hash=Invitation.hash_token(TOKEN),
        expires_at=timezone.now() + timezone.timedelta(hours=1),
    )


FORM = "/accounts/invitations/accept/"


def page(token=TOKEN) -> str:
    """The emailed link."""
    return f"/accounts/invitations/{token}/"


def browser() -> Client:
    return Client(HTTP_HOST="localhost")


def opened(token=TOKEN) -> tuple[Client, object]:
    """A browser that followed the emailed link, and the page it landed on."""
    client = browser()
    return client, client.get(page(token), follow=True)


def test_the_page_shows_who_invited_whom_to_what(invitation, acme_admin):
    _, response = opened()

    assert response.status_code == 200
    html = response.content.decode()
    assert "new.person@test.example.com" in html
    assert "Acme Corp" in html and "manager" in html
    assert acme_admin.get_full_name() in html
    assert 'name="password"' in html and "Choose a password" in html


def test_the_token_leaves_the_address_bar_at_once(invitation):
    client = browser()

    response = client.get(page())

    assert response.status_code == 302
    assert response["Location"] == FORM
    assert TOKEN not in response["Location"]
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_accepting_on_the_page_creates_the_account_and_the_membership(invitation, acme):
    client, _ = opened()

    response = client.post(FORM, {"full_name": "New Person", "password": PASSWORD})

    assert response.status_code == 200
    assert b"you are now manager of" in response.content
    user = User.objects.get(email="new.person@test.example.com")
    assert user.full_name == "New Person" and user.check_password(PASSWORD)
    assert Membership.objects.get(user=user, organization=acme).role == Role.MANAGER
    assert b"This invitation was already accepted" in opened()[1].content


def test_an_existing_account_is_asked_for_its_password(invitation, acme):
    user = make_user(email="new.person@test.example.com", password="their-own-password-55")

    client, landed = opened()
    html = landed.content.decode()
    assert "already has an account" in html and "Your password" in html

    wrong = client.post(FORM, {"password": "not-their-password-1"})
    assert wrong.status_code == 400
    assert b"enter its password" in wrong.content
    assert not Membership.objects.filter(user=user, organization=acme).exists()

    right = client.post(FORM, {"password": "their-own-password-55"})
    assert right.status_code == 200
    assert Membership.objects.filter(user=user, organization=acme).exists()


def test_a_weak_password_is_shown_on_the_form_and_nothing_is_created(invitation):
    client, _ = opened()

    response = client.post(FORM, {"password": "password"})

    assert response.status_code == 400
    assert b"This password is too common" in response.content
    assert not User.objects.filter(email="new.person@test.example.com").exists()


@pytest.mark.parametrize("token", ["not-a-token", "x" * 300])
def test_an_unknown_token_shows_a_clear_message(token):
    _, response = opened(token)

    assert response.status_code == 200
    assert b"This invitation is not valid" in response.content
    assert b'name="password"' not in response.content


def test_an_expired_invitation_says_so(invitation):
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now())

    _, response = opened()

    assert b"This invitation has expired" in response.content


def test_the_page_is_not_served_on_an_organization_host(invitation, acme):
    response = Client(HTTP_HOST=acme.domain).get(page())

    assert response.status_code == 404


def test_a_deactivated_organizations_invitation_says_so_and_accepts_nothing(invitation, acme):
    client, _ = opened()
    organization_set_active(organization=acme, is_active=False)

    shown = client.get(FORM)
    posted = client.post(FORM, {"password": PASSWORD})

    assert b"no longer active" in shown.content
    assert posted.status_code == 400 and b"no longer active" in posted.content
    assert not User.objects.filter(email="new.person@test.example.com").exists()


def test_posting_without_having_opened_a_link_accepts_nothing(invitation):
    response = browser().post(FORM, {"password": PASSWORD})

    assert response.status_code == 400
    assert b"This invitation is not valid" in response.content
    assert not User.objects.filter(email="new.person@test.example.com").exists()
