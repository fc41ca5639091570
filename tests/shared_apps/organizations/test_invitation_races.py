"""Invitation races, with real commits on separate connections: two accepts of one token make
one membership and one clear refusal; two invitations of one address make one invitation.

No `db` fixture in the racing tests: a rolled-back test transaction could not race, and a
transactional test would flush the session's organizations. What they commit is removed.
"""

import threading
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Invitation, Membership, Organization, Role
from shared_apps.organizations.services import (
    INVITATION_USED,
    invitation_accept_with_token,
    invitation_create,
)

PASSWORD = "a-long-unusual-passphrase-42"


def race(*targets):
    """Start every target on its own thread and connection at the same instant; return
    (results, errors) in order."""
    barrier = threading.Barrier(len(targets))
    results: list = [None] * len(targets)
    errors: list = [None] * len(targets)

    def run(index, target):
        try:
            barrier.wait(timeout=10)
            results[index] = target()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results, errors


@pytest.fixture
def acme_committed(django_db_setup, django_db_blocker):
    """acme, with every invitation, membership and user the test commits for `email` removed
    afterwards."""
    email = f"race-{uuid.uuid4().hex[:8]}@test.example.com"
    with django_db_blocker.unblock():
        if not connection.settings_dict["NAME"].startswith("test_"):
            pytest.fail("not on the test database")
        acme = Organization.objects.get(slug="acme")
        try:
            yield acme, email
        finally:
            Invitation.objects.filter(email=email).delete()
            Membership.objects.filter(user__email=email).delete()
            # Raw: the ORM's cascade check would look for tenant tables in the public schema.
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM public.accounts_user WHERE email = %s", [email])


def test_two_accepts_of_one_token_make_one_membership(acme_committed):
    acme, email = acme_committed
    invitation = invitation_create(
        organization=acme, email=email, role=Role.MEMBER, invited_by=None
    )
    token = "race-token-" + uuid.uuid4().hex
    Invitation.objects.filter(pk=invitation.pk).update(token_hash=Invitation.hash_token(token))

    def accept():
        return invitation_accept_with_token(token=token, password=PASSWORD)

    results, errors = race(accept, accept)

    succeeded = [r for r in results if r is not None]
    assert len(succeeded) == 1, errors
    [error] = [e for e in errors if e is not None]
    assert isinstance(error, ValidationError)
    assert error.message_dict == {"token": [INVITATION_USED]}
    user = User.objects.get(email=email)
    assert list(Membership.objects.filter(user=user).values_list("role", flat=True)) == ["MEMBER"]


def test_two_invitations_of_one_address_at_once_make_one_invitation(acme_committed):
    acme, email = acme_committed

    def invite():
        return invitation_create(organization=acme, email=email, role=Role.MEMBER, invited_by=None)

    results, errors = race(invite, invite)

    assert errors == [None, None]
    assert results[0].pk == results[1].pk
    assert Invitation.objects.filter(organization=acme, email=email).count() == 1
