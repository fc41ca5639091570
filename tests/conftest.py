"""Session set-up (test database + two organizations, created once) and shared fixtures."""

import os

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Organization, Role
from shared_apps.organizations.services import organization_create

from .factories import client_for, make_member, make_user

TEST_ORGANIZATIONS = {"acme": "Acme Corp", "globex": "Globex Corporation"}
FOUNDER_EMAIL = "founder-{slug}@test.example.com"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Each test run gets its own database, so runs sharing one server never collide."""
    database = settings.DATABASES["default"]
    database.setdefault("TEST", {})["NAME"] = f"test_{database['NAME']}_{os.getpid()}"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The migrated test database plus organizations acme and globex, provisioned once.

    Schema creation is DDL outside any test's transaction, so it happens here, once; each
    test then runs in a transaction that is rolled back, schemas included.
    """
    with django_db_blocker.unblock():
        for slug, name in TEST_ORGANIZATIONS.items():
            founder = make_user(email=FOUNDER_EMAIL.format(slug=slug))
            organization_create(name=name, slug=slug, admin=founder)


@pytest.fixture(scope="session", autouse=True)
def _always_the_test_database(django_db_setup):
    """Create the test database even when only real-commit tests (no `db` fixture) run, so
    they can never write to the development database."""


@pytest.fixture(autouse=True)
def _back_to_public_schema():
    """Requests leave the connection on the tenant's schema; every test starts in public."""
    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()


@pytest.fixture
def acme(db) -> Organization:
    """The session's first organization."""
    return Organization.objects.get(slug="acme")


@pytest.fixture
def globex(db) -> Organization:
    """The session's second organization."""
    return Organization.objects.get(slug="globex")


@pytest.fixture
def acme_admin(acme):
    """A new ADMIN of acme."""
    return make_member(acme, Role.ADMIN)


@pytest.fixture
def acme_manager(acme):
    """A new MANAGER of acme."""
    return make_member(acme, Role.MANAGER)


@pytest.fixture
def acme_member(acme):
    """A new MEMBER of acme."""
    return make_member(acme, Role.MEMBER)


@pytest.fixture
def staff_client(db):
    """A Django test client on the public host, logged in as a staff superuser."""
    staff = User.objects.create_superuser("root@test.example.com")
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)
    return client


@pytest.fixture
def public_client(db):
    """An anonymous API client on the base (public) host."""
    return client_for(None)
