"""Invitation races, with real commits on separate connections: two accepts of one token make
one membership; two invitations of one address make one invitation; an accept racing a
re-invite never deadlocks; two invitations to one new address accepted at once make one
account.

No `db` fixture: a rolled-back test transaction could not race, and a transactional test
would flush the session's organizations. What these tests commit is removed afterwards.
"""

import threading
import time
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Invitation, Membership, Organization, Role
from shared_apps.organizations.services import (
    ACCOUNT_PASSWORD_NEEDED,
    INVITATION_NOT_VALID,
    INVITATION_USED,
    invitation_accept_with_token,
    invitation_create,
    lock_organization,
)
from tests.concurrency import (
    BLOCKED_FOR,
    Worker,
    delete_activity_after,
    finish,
    last_activity_id,
)
from tests.factories import users_delete

PASSWORD = "a-long-unusual-passphrase-42"


def together(*targets):
    """Start every target on its own connection at the same instant; wait for all of them."""
    barrier = threading.Barrier(len(targets))

    def at_once(target):
        def run():
            barrier.wait(timeout=10)
            return target()

        return run

    workers = [Worker(at_once(target)) for target in targets]
    for worker in workers:
        worker.start()
    finish(*workers, release=threading.Event())
    return workers


def invitation_with_token(organization, email, role=Role.MEMBER) -> str:
    """A committed invitation of `email` to `organization`; returns its raw token."""
    invitation = invitation_create(
        organization=organization, email=email, role=role, invited_by=None
    )
    token = "race-token-" + uuid.uuid4().hex
    Invitation.objects.filter(pk=invitation.pk).update(token_hash=Invitation.hash_token(token))
    return token


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """acme and globex, and a fresh address; everything committed for that address
    (invitations, memberships, activity, the user) is removed afterwards."""
    email = f"race-{uuid.uuid4().hex[:8]}@test.example.com"
    with django_db_blocker.unblock():
        if not connection.settings_dict["NAME"].startswith("test_"):
            pytest.fail("not on the test database")
        organizations = list(Organization.objects.filter(slug__in=["acme", "globex"]))
        marks = {org.pk: last_activity_id(org) for org in organizations}
        acme = next(org for org in organizations if org.slug == "acme")
        globex = next(org for org in organizations if org.slug == "globex")
        try:
            yield acme, globex, email
        finally:
            connection.set_schema_to_public()
            for organization in organizations:
                delete_activity_after(organization, marks[organization.pk])
            Invitation.objects.filter(email=email).delete()
            Membership.objects.filter(user__email=email).delete()
            users_delete("email = %s", [email])


def test_two_accepts_of_one_token_make_one_membership(committed):
    acme, _, email = committed
    token = invitation_with_token(acme, email)

    def accept():
        return invitation_accept_with_token(token=token, password=PASSWORD)

    workers = together(accept, accept)

    assert sum(worker.error is None for worker in workers) == 1
    [error] = [worker.error for worker in workers if worker.error is not None]
    assert isinstance(error, ValidationError)
    assert error.message_dict == {"token": [INVITATION_USED]}
    user = User.objects.get(email=email)
    assert list(Membership.objects.filter(user=user).values_list("role", flat=True)) == ["MEMBER"]


def test_two_invitations_of_one_address_at_once_make_one_invitation(committed):
    acme, _, email = committed

    def invite():
        return invitation_create(organization=acme, email=email, role=Role.MEMBER, invited_by=None)

    workers = together(invite, invite)

    assert [worker.error for worker in workers] == [None, None]
    assert workers[0].result.pk == workers[1].result.pk
    assert Invitation.objects.filter(organization=acme, email=email).count() == 1


def test_an_accept_waiting_on_a_re_invite_gets_a_clear_400_not_a_deadlock(committed):
    acme, _, email = committed
    token = invitation_with_token(acme, email)
    holding, release = threading.Event(), threading.Event()

    def re_invite():
        # Holds the organization, as inviting does, while the accept arrives; then renews the
        # invitation (a new token) in the same transaction.
        with transaction.atomic():
            lock_organization(acme)
            holding.set()
            release.wait(timeout=10)
            return invitation_create(
                organization=acme, email=email, role=Role.MANAGER, invited_by=None
            )

    inviter = Worker(re_invite)
    inviter.start()
    assert holding.wait(timeout=10)
    accepter = Worker(lambda: invitation_accept_with_token(token=token, password=PASSWORD))
    accepter.start()
    time.sleep(BLOCKED_FOR)
    assert not accepter.done.is_set(), "the accept should wait for the organization"
    finish(inviter, accepter, release=release)

    assert inviter.error is None
    assert isinstance(accepter.error, ValidationError), accepter.error
    assert accepter.error.message_dict == {"token": [INVITATION_NOT_VALID]}
    assert not Membership.objects.filter(user__email=email).exists()


def test_two_organizations_invitations_to_one_new_address_accepted_at_once(committed):
    acme, globex, email = committed
    acme_token = invitation_with_token(acme, email)
    globex_token = invitation_with_token(globex, email)

    workers = together(
        lambda: invitation_accept_with_token(token=acme_token, password=PASSWORD),
        lambda: invitation_accept_with_token(token=globex_token, password="another-pass-99x"),
    )

    # One created the account; the other found it and had to give its password.
    errors = [worker.error for worker in workers if worker.error is not None]
    assert len(errors) == 1, errors
    assert isinstance(errors[0], ValidationError)
    assert errors[0].message_dict == {"password": [ACCOUNT_PASSWORD_NEEDED]}
    assert User.objects.filter(email=email).count() == 1
