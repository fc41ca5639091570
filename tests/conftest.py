"""Session set-up (test database + two organizations, created once) and shared fixtures."""

import copy
import itertools
import os
import time

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import setup_databases, teardown_databases

from saas.api import throttling
from saas.celery import app as celery_app
from shared_apps.accounts.models import User
from shared_apps.organizations.middleware import routing_cache
from shared_apps.organizations.models import Organization, Role
from shared_apps.organizations.services import organization_create
from tenant_apps.tasks.cache import breaker

from .dev_server import DevServer, committed, free_port, server_connections
from .factories import client_for, make_member, make_user
from .jobs import JOB_QUEUE, WORKER_APPLICATION_NAME, JobWorker, mode_description, remove_queue

TEST_ORGANIZATIONS = {"acme": "Acme Corp", "globex": "Globex Corporation"}
FOUNDER_EMAIL = "founder-{slug}@test.example.com"
# The product's hashers (Argon2 first), as settings.py configures them.
PRODUCTION_PASSWORD_HASHERS = tuple(settings.PASSWORD_HASHERS)
FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Jobs this run queues go to its own queue, where only its own worker (tests/jobs.py) looks.
celery_app.conf.task_default_queue = JOB_QUEUE


def pytest_report_header(config):
    """Says whether jobs run on a real Celery worker or eagerly."""
    return mode_description()


@pytest.fixture(scope="session", autouse=True)
def _emails_in_the_request():
    """Emails are sent in the request's thread, so a test reads them in the outbox right
    after; the tests of background sending turn it back on."""
    with override_settings(EMAIL_IN_BACKGROUND=False):
        yield


@pytest.fixture(scope="session", autouse=True)
def _no_schema_pool_refills():
    """No spare schemas unless a test builds them (tests/shared_apps/organizations/
    test_schema_pool*.py): onboarding migrates each schema, and what a test commits queues
    no refill job."""
    with override_settings(SCHEMA_POOL_SIZE=0):
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
    """Tests against the real server or worker run last (slower, and they commit rows for
    them to see), browser tests at the very end: once Playwright runs, its event loop sits
    on this thread and Django refuses queries there (see tests/browser/conftest.py)."""

    def order(item) -> int:
        if item.get_closest_marker("browser"):
            return 2
        committing = {"dev_server", "job_worker"} & set(getattr(item, "fixturenames", ()))
        return 1 if committing else 0

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


@pytest.fixture(scope="session", autouse=True)
def _export_root(tmp_path_factory):
    """Export files go to a folder of this run's own (the worker's too), never .data/."""
    with override_settings(EXPORT_ROOT=tmp_path_factory.mktemp("exports")):
        yield


@pytest.fixture(scope="session")
def job_worker(django_db_setup, django_db_blocker, tmp_path_factory, _export_root):
    """A real Celery worker on this run's queue against the test database when a broker is
    configured (None in eager mode: jobs then run in the process that queues them). Like
    the dev server it sees only committed rows; stopped at the end of the session."""
    if celery_app.conf.task_always_eager:
        yield None
        return
    folder = tmp_path_factory.mktemp("job_worker")
    worker = JobWorker(
        log_path=folder / "worker.log",
        export_root=settings.EXPORT_ROOT,
        mail_dir=folder / "mail",
    )
    worker.start(settings.DATABASES["default"])
    yield worker
    worker.stop()
    remove_queue()
    # The test database can be dropped only once the worker's connections are really gone.
    with committed(django_db_blocker):
        deadline = time.monotonic() + 10
        while server_connections(WORKER_APPLICATION_NAME) and time.monotonic() < deadline:
            time.sleep(0.1)


@pytest.fixture(autouse=True)
def _no_remembered_routes():
    """Every test starts with no host -> organization route remembered (the middleware keeps
    them a few seconds): an organization a rolled-back test created must not route later."""
    routing_cache.clear()
    yield
    routing_cache.clear()


@pytest.fixture(autouse=True)
def _back_to_public_schema():
    """Requests leave the connection on the tenant's schema; every test starts in public."""
    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()


# Cache keys of this run start with it (runs sharing one Redis never meet).
CACHE_KEY_PREFIX = f"test-{os.getpid()}"
_cache_namespaces = itertools.count(1)


@pytest.fixture(autouse=True)
def _own_cache_keys():
    """A cache key prefix of this test's own, and a closed circuit breaker: each test's
    transaction is rolled back, change versions included, so the next test would otherwise
    find dashboard entries stored under the very versions it reaches."""
    caches = copy.deepcopy(settings.CACHES)
    prefix = f"{CACHE_KEY_PREFIX}-{next(_cache_namespaces)}"
    for cache in caches.values():  # "throttle" too: no test sees another's request counts
        cache["KEY_PREFIX"] = prefix
    breaker.reset()
    throttling.outage.reset()
    with override_settings(CACHES=caches):
        yield
    breaker.reset()
    throttling.outage.reset()


@pytest.fixture(scope="session", autouse=True)
def _remove_cache_keys_of_this_run():
    """Delete what this run stored in Redis (entries would expire anyway, later)."""
    yield
    if settings.CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache":
        from django_redis import get_redis_connection

        client = get_redis_connection("default")
        # make_key: "<schema>:<prefix>:<version>:<key>"; throttle counters "<prefix>:<version>:<key>"
        for pattern in (f"*:{CACHE_KEY_PREFIX}-*", f"{CACHE_KEY_PREFIX}-*"):
            for key in client.scan_iter(match=pattern, count=1000):
                client.delete(key)


# Far above what any test sends: only the tests of rate limiting (which set their own rates)
# are ever throttled.
UNTHROTTLED_RATES = {
    scope: "100000/min" for scope in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
}


@pytest.fixture(scope="session", autouse=True)
def _rate_limits_out_of_the_way():
    """Rate limits too high to reach, so the suite's many requests from one address (and the
    fuzzer's) are never refused; tests/saas/api/test_throttling.py sets small ones."""
    rest_framework = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": UNTHROTTLED_RATES,
    }
    with override_settings(REST_FRAMEWORK=rest_framework):
        yield


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
