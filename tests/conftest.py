"""Session set-up (test database + two organizations, created once) and shared fixtures."""

import os
import time

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import setup_databases, teardown_databases

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Organization, Role
from shared_apps.organizations.services import organization_create

from .dev_server import DevServer, committed, free_port, server_connections
from .factories import client_for, make_member, make_user

TEST_ORGANIZATIONS = {"acme": "Acme Corp", "globex": "Globex Corporation"}
FOUNDER_EMAIL = "founder-{slug}@test.example.com"
# The product's hashers (Argon2 first), as settings.py configures them.
PRODUCTION_PASSWORD_HASHERS = tuple(settings.PASSWORD_HASHERS)
FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def _emails_in_the_request():
    """Emails are sent in the request's thread, so a test reads them in the outbox right
    after; the tests of background sending turn it back on."""
    with override_settings(EMAIL_IN_BACKGROUND=False):
        yield


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    """MD5 instead of Argon2 (~0.1 s a password) for the whole session; the tests of hashing
    itself ask for `production_password_hashers`."""
    with override_settings(PASSWORD_HASHERS=FAST_PASSWORD_HASHERS):
        yield


@pytest.fixture
def production_password_hashers(settings):
    """The product's password hashers (Argon2) for this test instead of the fast one."""
    settings.PASSWORD_HASHERS = list(PRODUCTION_PASSWORD_HASHERS)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Each test run gets its own database, so runs sharing one server never collide."""
    database = settings.DATABASES["default"]
    database.setdefault("TEST", {})["NAME"] = f"test_{database['NAME']}_{os.getpid()}"


@pytest.fixture(scope="session")
def django_db_setup(request, django_db_setup, django_db_blocker):
    """The migrated test database plus organizations acme and globex, provisioned once.

    Schema creation is DDL outside any test's transaction, so it happens here, once; each
    test then runs in a transaction that is rolled back, schemas included.
    """
    with django_db_blocker.unblock():
        if not connection.settings_dict["NAME"].startswith("test_"):
            # pytest-django sets up only the databases that selected tests ask for (`db`);
            # tests that commit for real ask for none, and must never reach the development
            # database: set the test database up here for them.
            old_config = setup_databases(verbosity=0, interactive=False, aliases={"default"})

            def teardown():
                with django_db_blocker.unblock():
                    teardown_databases(old_config, verbosity=0)

            request.addfinalizer(teardown)
        assert connection.settings_dict["NAME"].startswith("test_"), "not the test database"
        for slug, name in TEST_ORGANIZATIONS.items():
            founder = make_user(email=FOUNDER_EMAIL.format(slug=slug))
            organization_create(name=name, slug=slug, admin=founder)


@pytest.fixture(scope="session", autouse=True)
def _always_the_test_database(django_db_setup):
    """Create the test database even when only real-commit tests (no `db` fixture) run, so
    they can never write to the development database."""


def pytest_collection_modifyitems(items):
    """Tests against the real server run last (slower, and they commit rows for it to see),
    browser tests at the very end: once Playwright runs, its event loop sits on this thread
    and Django refuses queries there (see tests/browser/conftest.py)."""

    def order(item) -> int:
        if item.get_closest_marker("browser"):
            return 2
        return 1 if "dev_server" in getattr(item, "fixturenames", ()) else 0

    items.sort(key=order)


@pytest.fixture(scope="session")
def dev_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """The server `make run` starts (saas/devserver.py) on a free 127.0.0.1 port, against the
    test database, writing its emails to files; stopped at the end of the session.

    It sees only committed rows: create its data outside the test transaction
    (`django_db_blocker.unblock()`) and delete it afterwards.
    """
    folder = tmp_path_factory.mktemp("dev_server")
    server = DevServer(port=free_port(), mail_dir=folder / "mail", log_path=folder / "server.log")
    server.start(settings.DATABASES["default"])
    yield server
    server.stop()
    # The test database can be dropped only once the server's connections are really gone.
    with committed(django_db_blocker):
        deadline = time.monotonic() + 10
        while server_connections() and time.monotonic() < deadline:
            time.sleep(0.1)


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
