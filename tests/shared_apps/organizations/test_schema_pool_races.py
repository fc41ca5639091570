"""The pool under concurrency, with real commits on separate connections: two onboardings
never take the same spare and neither waits for the other, and sign-ups never wait for an
onboarding that claimed a spare (today's path, migrating, holds them up).

No `db` fixture: a rolled-back test transaction could not race, and a transactional test
would flush the session's organizations. What these tests commit is removed afterwards.
"""

import threading
import uuid

import pytest
from django.db import connection, transaction
from django_tenants.utils import schema_exists

from shared_apps.organizations.models import Domain, Membership, Organization
from shared_apps.organizations.schema_pool import spare_schema_names
from shared_apps.organizations.schema_pool.pool import pool_refill, spare_drop
from shared_apps.organizations.schema_pool.state import is_current
from shared_apps.organizations.services import organization_create
from tests.concurrency import TIMEOUT, Worker, finish, waits_on_a_lock
from tests.factories import make_user, users_delete


class Rollback(Exception):
    """Raised to end a held transaction without committing it."""


def _delete_user(user_id: int) -> None:
    users_delete("id = %s", [user_id])


def _drop_organization(slug: str) -> None:
    for organization in Organization.objects.filter(slug=slug):
        Membership.objects.filter(organization=organization).delete()
        Domain.objects.filter(tenant=organization).delete()
        connection.set_schema_to_public()
        organization.delete(force_drop=True)


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """A way to commit for real; afterwards the organizations, users and spares made here
    are removed."""
    slugs: list[str] = []
    user_ids: list[int] = []
    with django_db_blocker.unblock():
        if not connection.settings_dict["NAME"].startswith("test_"):
            pytest.fail("not on the test database")
        assert spare_schema_names() == [], "spares left by another test"
        try:
            yield slugs, user_ids
        finally:
            connection.set_schema_to_public()
            for slug in slugs:
                _drop_organization(slug)
            for user_id in user_ids:
                _delete_user(user_id)
            for name in spare_schema_names():
                spare_drop(name=name)
            connection.close()


def _slug(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def test_two_concurrent_onboardings_take_two_different_spares_without_waiting(committed):
    slugs, user_ids = committed
    spares = pool_refill(size=2).created
    admin = make_user()
    user_ids.append(admin.pk)
    first, second = _slug("pool-first"), _slug("pool-second")
    slugs.extend([first, second])
    held, release = threading.Event(), threading.Event()

    def hold_first():
        with transaction.atomic():
            organization_create(name="First", slug=first, admin=admin)
            held.set()
            release.wait(TIMEOUT)

    holder = Worker(hold_first)
    holder.start()
    assert held.wait(TIMEOUT)
    other = Worker(lambda: organization_create(name="Second", slug=second, admin=admin))
    other.start()

    # The second onboarding skips the spare the first one holds, and does not wait for it.
    assert other.done.wait(TIMEOUT), "the second onboarding waited for the first"
    assert holder.is_alive()
    finish(holder, other, release=release)

    assert holder.error is None and other.error is None, (holder.error, other.error)
    assert spare_schema_names() == []
    assert all(not schema_exists(name) for name in spares)
    for slug in (first, second):
        assert is_current(f"org_{slug.replace('-', '_')}")


def test_control_a_foreign_key_to_users_being_created_makes_sign_ups_wait(committed):
    _, user_ids = committed
    held, release = threading.Event(), threading.Event()

    def hold_a_new_key():
        with transaction.atomic(), connection.cursor() as cursor:
            # Rolled back below: the table never exists for anyone else.
            cursor.execute(
                "CREATE TABLE public.held_key (user_id bigint REFERENCES public.accounts_user)"
            )
            held.set()
            release.wait(TIMEOUT)
            raise Rollback

    def sign_up():
        user_ids.append(make_user(email=f"{_slug('signup')}@test.example.com").pk)

    holder = Worker(hold_a_new_key)
    holder.start()
    assert held.wait(TIMEOUT)
    signup = Worker(sign_up)
    signup.start()

    assert waits_on_a_lock(signup)
    finish(holder, signup, release=release)
    assert isinstance(holder.error, Rollback)
    assert signup.error is None, signup.error


@pytest.mark.parametrize("pool_size", [1, 0], ids=["claimed spare", "migrated (empty pool)"])
def test_sign_ups_never_wait_for_an_onboarding(committed, pool_size):
    slugs, user_ids = committed
    pool_refill(size=pool_size)
    admin = make_user()
    user_ids.append(admin.pk)
    slug = _slug("pool-locks")
    slugs.append(slug)
    held, release = threading.Event(), threading.Event()

    def hold_onboarding():
        with transaction.atomic():
            organization_create(name="Held", slug=slug, admin=admin)
            held.set()
            release.wait(TIMEOUT)
            raise Rollback

    def sign_up():
        user = make_user(email=f"{_slug('signup')}@test.example.com")
        user_ids.append(user.pk)

    onboarding = Worker(hold_onboarding)
    onboarding.start()
    assert held.wait(TIMEOUT)
    signup = Worker(sign_up)
    signup.start()

    # Neither path locks the users table: tenant tables reference users without foreign
    # keys (tenant_apps/people.py), whose creation would lock it until the commit (the
    # control below shows this test would see that wait).
    assert signup.done.wait(TIMEOUT), "the sign-up waited for the onboarding"
    assert onboarding.is_alive()
    finish(onboarding, signup, release=release)

    assert isinstance(onboarding.error, Rollback)
    assert signup.error is None, signup.error
    assert not Organization.objects.filter(slug=slug).exists()
    # A rolled-back claim leaves its spare in the pool.
    assert len(spare_schema_names()) == pool_size
