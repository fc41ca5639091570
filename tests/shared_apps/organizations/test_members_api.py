"""The members endpoint on an organization's host: re-roling and removing members,
the last-ADMIN rule, mass assignment, and pagination."""

import pytest
from django.core.exceptions import ValidationError

from shared_apps.organizations.models import Membership, Role
from shared_apps.organizations.services import (
    LAST_ADMIN,
    membership_change_role,
    membership_delete,
)
from tests.factories import client_for, make_member, make_user

pytestmark = pytest.mark.django_db

FOUNDER_EMAIL = "founder-acme@test.example.com"


def memberships_of(organization) -> list[tuple[int, int, str]]:
    """(id, user id, role) of every membership of the organization."""
    return sorted(
        Membership.objects.filter(organization=organization).values_list("id", "user_id", "role")
    )


def membership(organization, user) -> Membership:
    return Membership.objects.get(organization=organization, user=user)


@pytest.fixture
def sole_admin(acme, acme_admin):
    """acme_admin as acme's only ADMIN (the founder's membership is removed for this test)."""
    Membership.objects.filter(organization=acme, user__email=FOUNDER_EMAIL).delete()
    assert list(
        Membership.objects.filter(organization=acme, role=Role.ADMIN).values_list("user", flat=True)
    ) == [acme_admin.id]
    return acme_admin


# --- Changing roles (adding members is by invitation: see test_invitations_api.py) -------------


def test_an_invalid_role_is_refused_on_update(acme, acme_admin, acme_member):
    response = client_for(acme_admin, acme).patch(
        f"/api/members/{membership(acme, acme_member).id}/", {"role": "OWNER"}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()) == ["role"]
    assert membership(acme, acme_member).role == Role.MEMBER


# --- The last ADMIN -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["MANAGER", "MEMBER"])
def test_the_last_admin_cannot_be_demoted(acme, sole_admin, role):
    before = memberships_of(acme)

    response = client_for(sole_admin, acme).patch(
        f"/api/members/{membership(acme, sole_admin).id}/", {"role": role}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"detail": LAST_ADMIN}
    assert memberships_of(acme) == before


def test_the_last_admin_cannot_leave(acme, sole_admin):
    before = memberships_of(acme)

    response = client_for(sole_admin, acme).delete(
        f"/api/members/{membership(acme, sole_admin).id}/"
    )

    assert response.status_code == 400
    assert response.json() == {"detail": LAST_ADMIN}
    assert memberships_of(acme) == before


def test_the_last_admin_cannot_be_removed(acme, sole_admin):
    # Through the API only an ADMIN may remove someone, so "removing the last ADMIN" there is
    # leaving (above); the service refuses it whoever asks.
    before = memberships_of(acme)

    with pytest.raises(ValidationError) as excinfo:
        membership_delete(membership=membership(acme, sole_admin))
    with pytest.raises(ValidationError):
        membership_change_role(membership=membership(acme, sole_admin), role=Role.MEMBER)

    assert excinfo.value.messages == [LAST_ADMIN]
    assert memberships_of(acme) == before


def test_the_last_admin_can_stay_admin(acme, sole_admin):
    response = client_for(sole_admin, acme).patch(
        f"/api/members/{membership(acme, sole_admin).id}/", {"role": "ADMIN"}, format="json"
    )

    assert response.status_code == 200
    assert membership(acme, sole_admin).role == Role.ADMIN


def test_with_two_admins_one_can_be_demoted_and_then_not_the_other(acme, sole_admin):
    second = make_member(acme, Role.ADMIN)
    client = client_for(sole_admin, acme)

    demoted = client.patch(
        f"/api/members/{membership(acme, second).id}/", {"role": "MANAGER"}, format="json"
    )
    again = client.patch(
        f"/api/members/{membership(acme, sole_admin).id}/", {"role": "MANAGER"}, format="json"
    )

    assert demoted.status_code == 200
    assert demoted.json()["role"] == "MANAGER"
    assert membership(acme, second).role == Role.MANAGER
    assert again.status_code == 400
    assert membership(acme, sole_admin).role == Role.ADMIN


def test_with_two_admins_one_can_leave(acme, sole_admin):
    second = make_member(acme, Role.ADMIN)

    response = client_for(second, acme).delete(f"/api/members/{membership(acme, second).id}/")

    assert response.status_code == 204
    assert not Membership.objects.filter(organization=acme, user=second).exists()
    assert membership(acme, sole_admin).role == Role.ADMIN


def test_with_two_admins_one_can_remove_the_other(acme, sole_admin):
    second = make_member(acme, Role.ADMIN)

    response = client_for(sole_admin, acme).delete(f"/api/members/{membership(acme, second).id}/")

    assert response.status_code == 204
    assert not Membership.objects.filter(organization=acme, user=second).exists()


# --- Who may change roles -----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["ADMIN", "MANAGER"])
def test_a_manager_cannot_raise_their_own_role(acme, acme_manager, role):
    own = membership(acme, acme_manager)

    response = client_for(acme_manager, acme).patch(
        f"/api/members/{own.id}/", {"role": role}, format="json"
    )

    assert response.status_code == 403
    own.refresh_from_db()
    assert own.role == Role.MANAGER


def test_a_member_cannot_raise_their_own_role(acme, acme_member):
    own = membership(acme, acme_member)

    response = client_for(acme_member, acme).patch(
        f"/api/members/{own.id}/", {"role": "ADMIN"}, format="json"
    )

    assert response.status_code == 403
    own.refresh_from_db()
    assert own.role == Role.MEMBER


# --- Mass assignment ----------------------------------------------------------------------------


def test_updating_a_member_ignores_user_and_id_in_the_body(acme, acme_admin, acme_member):
    target = membership(acme, acme_member)
    someone_else = make_user()

    response = client_for(acme_admin, acme).patch(
        f"/api/members/{target.id}/",
        {"role": "MANAGER", "user": someone_else.id, "id": target.id + 10_000},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert response.json()["id"] == target.id
    assert response.json()["user"]["id"] == acme_member.id
    target.refresh_from_db()
    assert (target.user_id, target.role) == (acme_member.id, Role.MANAGER)
    assert not Membership.objects.filter(user=someone_else).exists()


def test_updating_a_member_with_only_a_user_changes_nothing(acme, acme_admin, acme_member):
    target = membership(acme, acme_member)
    before = memberships_of(acme)

    response = client_for(acme_admin, acme).patch(
        f"/api/members/{target.id}/", {"user": acme_admin.id}, format="json"
    )

    assert response.status_code == 400
    assert list(response.json()) == ["role"]
    assert memberships_of(acme) == before


# --- Reading ------------------------------------------------------------------------------------


def test_the_member_list_is_paginated_and_complete(acme, acme_admin, acme_manager, acme_member):
    client = client_for(acme_member, acme)
    expected = {m.id for m in Membership.objects.filter(organization=acme)}
    assert len(expected) >= 4  # founder + the three fixtures

    seen, url, pages = [], "/api/members/?page_size=2", 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"next", "previous", "results"}
        assert len(body["results"]) <= 2
        seen += [row["id"] for row in body["results"]]
        url, pages = body["next"], pages + 1

    assert pages >= 2
    assert len(seen) == len(set(seen))
    assert set(seen) == expected


def test_a_member_detail_has_the_member_representation(acme, acme_member):
    target = membership(acme, acme_member)

    response = client_for(acme_member, acme).get(f"/api/members/{target.id}/")

    assert response.status_code == 200
    assert response.json() == {
        "id": target.id,
        "user": {
            "id": acme_member.id,
            "email": acme_member.email,
            "full_name": acme_member.full_name,
        },
        "role": "MEMBER",
        "created_at": response.json()["created_at"],
    }
