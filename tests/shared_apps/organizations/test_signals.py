"""Membership services announce their changes with signals, inside the change's transaction:
receivers see who did what, and a receiver that fails undoes the change."""

import pytest
from django.dispatch import receiver

from shared_apps.organizations.models import Invitation, Membership, Role
from shared_apps.organizations.services import (
    invitation_create,
    membership_add,
    membership_change_role,
    membership_delete,
    organization_create,
)
from shared_apps.organizations.signals import (
    member_invited,
    membership_added,
    membership_removed,
    membership_role_changed,
)
from tests.factories import make_member, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    """Every membership signal sent during the test, as (signal name, kwargs)."""
    events = []
    signals = {
        "added": membership_added,
        "role_changed": membership_role_changed,
        "removed": membership_removed,
        "invited": member_invited,
    }
    handlers = {}  # keeps the receivers alive: signals hold them by weak reference
    for name, signal in signals.items():

        def handler(sender, name=name, **kwargs):
            kwargs.pop("signal")
            events.append((name, kwargs))

        signal.connect(handler, dispatch_uid=f"test-{name}")
        handlers[name] = handler
    yield events
    for name, signal in signals.items():
        signal.disconnect(dispatch_uid=f"test-{name}")


def test_adding_a_member_says_who_added_whom(acme, acme_admin, heard):
    user = make_user()

    membership = membership_add(organization=acme, user=user, role=Role.MANAGER, actor=acme_admin)

    assert heard == [
        ("added", {"organization": acme, "membership": membership, "actor": acme_admin})
    ]


def test_changing_a_role_says_the_old_one(acme, acme_admin, heard):
    user = make_member(acme, Role.MEMBER)
    membership = Membership.objects.get(organization=acme, user=user)

    membership_change_role(membership=membership, role=Role.MANAGER, actor=acme_admin)

    [(name, kwargs)] = heard
    assert name == "role_changed"
    assert kwargs["old_role"] == Role.MEMBER and kwargs["membership"].role == Role.MANAGER
    assert kwargs["actor"] == acme_admin


def test_setting_the_same_role_changes_nothing_and_says_nothing(acme, acme_admin, heard):
    user = make_member(acme, Role.MEMBER)
    membership = Membership.objects.get(organization=acme, user=user)

    membership_change_role(membership=membership, role=Role.MEMBER, actor=acme_admin)

    assert heard == []


def test_removing_a_member_is_announced_while_the_row_still_exists(acme, acme_admin, heard):
    user = make_member(acme, Role.MEMBER)
    membership = Membership.objects.get(organization=acme, user=user)
    seen_rows = []
    membership_removed.connect(
        lambda sender, membership, **kw: seen_rows.append(
            Membership.objects.filter(pk=membership.pk).exists()
        ),
        dispatch_uid="test-row-exists",
        weak=False,
    )
    try:
        membership_delete(membership=membership, actor=acme_admin)
    finally:
        membership_removed.disconnect(dispatch_uid="test-row-exists")

    assert [name for name, _ in heard] == ["removed"]
    assert heard[0][1]["actor"] == acme_admin
    assert seen_rows == [True]
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_an_invitation_is_announced(acme, acme_admin, heard):
    invitation = invitation_create(
        organization=acme, email="sig@test.example.com", role=Role.MEMBER, invited_by=acme_admin
    )

    assert heard == [
        ("invited", {"organization": acme, "invitation": invitation, "actor": acme_admin})
    ]


def test_a_new_organizations_first_admin_is_announced(heard):
    founder = make_user()

    organization = organization_create(name="Signal Co", slug="signal-co", admin=founder)

    [(name, kwargs)] = heard
    assert name == "added"
    assert kwargs["organization"] == organization
    assert kwargs["membership"].user == founder and kwargs["membership"].role == Role.ADMIN


def test_a_failing_receiver_undoes_the_change(acme, acme_admin):
    user = make_user()

    @receiver(membership_added, dispatch_uid="test-failing")
    def fail(sender, **kwargs):
        raise RuntimeError("receiver failed")

    try:
        with pytest.raises(RuntimeError):
            membership_add(organization=acme, user=user, role=Role.MEMBER, actor=acme_admin)
    finally:
        membership_added.disconnect(dispatch_uid="test-failing")

    assert not Membership.objects.filter(organization=acme, user=user).exists()


def test_a_failing_invitation_receiver_undoes_the_invitation(acme):
    @receiver(member_invited, dispatch_uid="test-failing-invite")
    def fail(sender, **kwargs):
        raise RuntimeError("receiver failed")

    try:
        with pytest.raises(RuntimeError):
            invitation_create(
                organization=acme, email="x@test.example.com", role=Role.MEMBER, invited_by=None
            )
    finally:
        member_invited.disconnect(dispatch_uid="test-failing-invite")

    assert not Invitation.objects.filter(email="x@test.example.com").exists()
