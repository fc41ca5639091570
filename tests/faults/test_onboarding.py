"""Onboarding is all or nothing, with real commits: a failure injected at each step (the
schema, its tables half-migrated, the domain, the membership, the first member's activity
entry, the claim of a spare schema), or the process killed in the middle, leaves no row,
domain, membership or schema behind (and a claimed spare back in the pool); 20 concurrent
requests for one slug give one 201, nineteen 400s and one schema.

No `db` fixture: each onboarding's transaction is the outermost one, so its COMMIT or
ROLLBACK is the real thing. Everything committed here is removed afterwards.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from io import StringIO
from unittest import mock

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models.signals import pre_delete, pre_save
from django_tenants.utils import schema_exists
from knox.models import AuthToken
from rest_framework.test import APIClient

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Domain, Membership, Organization, SpareSchema
from shared_apps.organizations.reconcile import schema_mismatches
from shared_apps.organizations.schema_pool.pool import spare_create, spare_drop
from shared_apps.organizations.services import organization_create
from shared_apps.organizations.services.onboarding import SLUG_TAKEN
from shared_apps.organizations.signals import membership_added
from tests.dev_server import committed, database_url
from tests.factories import make_user, users_delete

from .servers import BASE_DIR

CONCURRENT_REQUESTS = 20


class InjectedFailure(Exception):
    """The failure a test injects into one step of onboarding."""


def _raise(*args, **kwargs):
    raise InjectedFailure("injected")


@contextmanager
def failing_schema_creation():
    """CREATE SCHEMA has run; the migrations never start."""
    with mock.patch("django_tenants.models.call_command", side_effect=_raise):
        yield


@contextmanager
def failing_migrations():
    """The schema exists and the first migrations created their tables; the fourth fails."""
    real = MigrationExecutor.apply_migration
    applied = []

    def apply_then_fail(self, state, migration, *args, **kwargs):
        if len(applied) == 3:
            raise InjectedFailure(f"injected in {migration}")
        applied.append(migration)
        return real(self, state, migration, *args, **kwargs)

    with mock.patch.object(MigrationExecutor, "apply_migration", apply_then_fail):
        yield
    assert len(applied) == 3, "the failure did not happen half-way through the migrations"


@contextmanager
def failing_on(signal_, sender):
    """`signal_` (sent by a step's write) raises."""
    signal_.connect(_raise, sender=sender, dispatch_uid="faults-onboarding")
    try:
        yield
    finally:
        signal_.disconnect(sender=sender, dispatch_uid="faults-onboarding")


STEPS: dict[str, Callable] = {
    "schema": failing_schema_creation,
    "tables": failing_migrations,
    "domain": lambda: failing_on(pre_save, Domain),
    "membership": lambda: failing_on(pre_save, Membership),
    "first member's activity entry": lambda: failing_on(membership_added, Membership),
}


def schema_of(slug: str) -> str:
    return "org_" + slug.replace("-", "_")


def assert_nothing_left(slug: str, user: User) -> None:
    assert not Organization.objects.filter(slug=slug).exists()
    assert not Domain.objects.filter(domain__startswith=f"{slug}.").exists()
    assert not Membership.objects.filter(user=user).exists()
    assert not schema_exists(schema_of(slug))
    assert schema_of(slug) not in schema_mismatches().orphan_schemas


def remove(slug: str) -> None:
    connection.set_schema_to_public()
    for organization in Organization.objects.filter(slug=slug):
        organization.delete(force_drop=True)


def remove_users(*users: User) -> None:
    ids = [user.pk for user in users]
    AuthToken.objects.filter(user_id__in=ids).delete()
    Membership.objects.filter(user_id__in=ids).delete()
    users_delete("id = ANY(%s)", [ids])


@pytest.fixture
def founder(django_db_setup, django_db_blocker):
    """A committed user; their organizations and the user are removed afterwards."""
    with committed(django_db_blocker):
        user = make_user(email=f"faults-{uuid.uuid4().hex[:8]}@test.example.com")
        slugs = []
        try:
            yield user, slugs
        finally:
            connection.set_schema_to_public()
            for slug in slugs:
                remove(slug)
            remove_users(user)


@pytest.mark.parametrize("step", STEPS)
def test_a_failure_at_any_step_leaves_nothing(founder, step):
    user, slugs = founder
    slug = f"fail-{uuid.uuid4().hex[:6]}"
    slugs.append(slug)

    with STEPS[step](), pytest.raises(InjectedFailure):
        organization_create(name="Doomed", slug=slug, admin=user)

    assert not connection.in_atomic_block  # the rollback was the real one
    assert_nothing_left(slug, user)


def test_after_a_failure_half_way_through_the_migrations_the_slug_can_be_used_again(founder):
    user, slugs = founder
    slug = f"fail-{uuid.uuid4().hex[:6]}"
    slugs.append(slug)
    with failing_migrations(), pytest.raises(InjectedFailure):
        organization_create(name="Doomed", slug=slug, admin=user)

    # The connection is back on public (it was left on the rolled-back schema: fixed).
    assert connection.schema_name == "public"
    organization = organization_create(name="Second try", slug=slug, admin=user)

    assert schema_exists(organization.schema_name)
    assert Membership.objects.filter(user=user, organization=organization).count() == 1


def test_a_failure_through_the_api_is_a_json_500_and_leaves_nothing(founder):
    user, slugs = founder
    slug = f"fail-{uuid.uuid4().hex[:6]}"
    slugs.append(slug)
    _, token = AuthToken.objects.create(user=user)
    client = APIClient(HTTP_HOST="localhost", raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    with failing_on(pre_save, Domain):
        response = client.post("/api/orgs/", {"name": "Doomed", "slug": slug}, format="json")

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    assert_nothing_left(slug, user)


def test_a_failed_claim_puts_the_spare_back_in_the_pool(founder):
    user, slugs = founder
    slug = f"fail-{uuid.uuid4().hex[:6]}"
    slugs.append(slug)
    spare = spare_create()
    try:
        # The claim renames the spare, then deletes its pool row: that delete fails.
        with failing_on(pre_delete, SpareSchema), pytest.raises(InjectedFailure):
            organization_create(name="Doomed", slug=slug, admin=user)

        assert_nothing_left(slug, user)
        assert SpareSchema.objects.filter(name=spare).exists()
        assert schema_exists(spare)
        assert spare not in schema_mismatches().orphan_schemas

        organization = organization_create(name="Second try", slug=slug, admin=user)
        assert not SpareSchema.objects.filter(name=spare).exists()
        assert not schema_exists(spare)  # it became the organization's schema
        assert schema_exists(organization.schema_name)
    finally:
        if SpareSchema.objects.filter(name=spare).exists():
            spare_drop(name=spare)


# Onboards `slug` for the user with `email`, and stops for ever once three tenant migrations
# have run: the parent kills the process there.
HANGING_ONBOARDING = """
import sys, time
import django
django.setup()
from django.db.migrations.executor import MigrationExecutor
from shared_apps.accounts.models import User
from shared_apps.organizations.services import organization_create

real = MigrationExecutor.apply_migration
applied = []

def apply_then_hang(self, state, migration, *args, **kwargs):
    state = real(self, state, migration, *args, **kwargs)
    applied.append(migration)
    if len(applied) == 3:
        print("HALF-MIGRATED", flush=True)
        time.sleep(600)
    return state

MigrationExecutor.apply_migration = apply_then_hang
organization_create(name="Killed", slug=sys.argv[1], admin=User.objects.get(email=sys.argv[2]))
"""


def test_a_process_killed_half_way_leaves_nothing(founder):
    user, slugs = founder
    slug = f"killed-{uuid.uuid4().hex[:6]}"
    slugs.append(slug)
    env = dict(
        os.environ,
        DATABASE_URL=database_url(settings.DATABASES["default"]),
        SCHEMA_POOL_SIZE="0",
        PGAPPNAME="faults-killed-onboarding",
    )
    process = subprocess.Popen(
        [sys.executable, "-c", HANGING_ONBOARDING, slug, user.email],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output = []
        for line in process.stdout:
            output.append(line)
            if line.startswith("HALF-MIGRATED"):
                break
        assert output and output[-1].startswith("HALF-MIGRATED"), "".join(output)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    # PostgreSQL rolls the transaction back once it sees the connection gone.
    deadline = time.monotonic() + 10
    while _sessions("faults-killed-onboarding") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert_nothing_left(slug, user)
    out = StringIO()
    call_command("reconcile_schemas", stdout=out)
    assert schema_of(slug) not in out.getvalue()


def _sessions(application_name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            [application_name],
        )
        return cursor.fetchone()[0]


def test_concurrent_requests_for_one_slug_give_one_201_and_the_rest_400(
    django_db_setup, django_db_blocker
):
    slug = f"race-{uuid.uuid4().hex[:6]}"
    with committed(django_db_blocker):
        users = [
            make_user(email=f"{slug}-{n}@test.example.com") for n in range(CONCURRENT_REQUESTS)
        ]
        tokens = [AuthToken.objects.create(user=user)[1] for user in users]
    start = threading.Barrier(CONCURRENT_REQUESTS)
    responses: list = [None] * CONCURRENT_REQUESTS
    errors: list = []

    def request(index: int) -> None:
        client = APIClient(HTTP_HOST="localhost", raise_request_exception=False)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens[index]}")
        try:
            start.wait(timeout=30)
            responses[index] = client.post(
                "/api/orgs/", {"name": "Race", "slug": slug}, format="json"
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=request, args=(i,)) for i in range(CONCURRENT_REQUESTS)]
    with django_db_blocker.unblock():
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=300)
            assert not any(thread.is_alive() for thread in threads)
            assert not errors, errors

            statuses = sorted(response.status_code for response in responses)
            assert statuses == [201] + [400] * (CONCURRENT_REQUESTS - 1), [
                response.content for response in responses
            ]
            for response in responses:
                if response.status_code == 400:
                    assert response.json() == {"slug": [SLUG_TAKEN]}
            winner = users[next(i for i, r in enumerate(responses) if r.status_code == 201)]
            connection.set_schema_to_public()
            organization = Organization.objects.get(slug=slug)
            assert list(Membership.objects.filter(organization=organization)) == list(
                Membership.objects.filter(user=winner)
            )
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_namespace WHERE nspname = %s", [schema_of(slug)]
                )
                assert cursor.fetchone()[0] == 1
        finally:
            connection.set_schema_to_public()
            remove(slug)
            remove_users(*users)
            connection.close()
