"""Headless Chromium (Debian's package, driven by Playwright) against the `make run` server,
with committed data that server can see, removed again at the end."""

import os
import re
import secrets
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.sessions.models import Session
from django.test import override_settings
from django_tenants.utils import schema_exists, tenant_context
from knox.models import AuthToken

from saas.devserver import BASE_DIR
from shared_apps.accounts.models import User
from shared_apps.organizations.models import Membership, Organization, Role
from tenant_apps.activity.models import Activity
from tenant_apps.projects.models import Project
from tenant_apps.tasks.models import Task
from tests.conftest import PRODUCTION_PASSWORD_HASHERS
from tests.dev_server import committed
from tests.factories import make_project, make_task, make_user, users_delete

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pytest_runtest_setup below skips every browser test, saying why
    expect = sync_playwright = None

CHROMIUM = Path("/usr/bin/chromium")
# Root, no network, no display: nothing in the background may try to reach the internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = BASE_DIR / ".artifacts" / "browser"
VIEWPORT = {"width": 1280, "height": 900}
PASSWORD = "browser-pass-" + secrets.token_hex(4)
TASK_TITLE = "Visible through Swagger " + secrets.token_hex(3)


def _browser_missing() -> str | None:
    if sync_playwright is None:
        return "Playwright is not installed (pip install -r requirements.txt)"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def pytest_runtest_setup(item):
    """Without a browser, browser tests skip with one line saying why (raised here, not in a
    fixture, so pytest reports every such skip at this one place); CI must have one."""
    missing = item.get_closest_marker("browser") and _browser_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"Browser tests cannot run in CI: {missing}")
        pytest.skip(f"Browser tests skipped: {missing}")


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium from Debian's package, driven by Playwright."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser tab (own cookies) at 1280 px, a desktop admin's width."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def screenshot(request):
    """screenshot(page_or_element, "step") saves the whole page (or just that element) as
    .artifacts/browser/<test>-<step>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test_name = re.sub(r"^test_", "", request.node.name)

    def take(target, step: str) -> Path:
        path = ARTIFACTS / f"{test_name}-{step}.png"
        if hasattr(target, "goto"):  # a page
            target.screenshot(path=str(path), full_page=True)
        else:
            target.screenshot(path=str(path))
        return path

    return take


@pytest.fixture(scope="session")
def site(dev_server, django_db_blocker):
    """The server plus committed rows it shows: a staff user, an ADMIN of acme with an API
    token, and a task in acme. Everything created here or through the server by these tests
    (users in `emails`, organizations in `slugs`) is deleted at the end."""
    data = SimpleNamespace(server=dev_server, password=PASSWORD, emails=[], slugs=[])
    with committed(django_db_blocker):
        acme = Organization.objects.get(slug="acme")
        # The server checks passwords with the product's hashers, not the tests' fast one.
        with override_settings(PASSWORD_HASHERS=list(PRODUCTION_PASSWORD_HASHERS)):
            data.staff = make_user(email="browser-staff@test.example.com", password=PASSWORD)
            data.admin = make_user(email="browser-admin@test.example.com", password=PASSWORD)
        User.objects.filter(pk=data.staff.pk).update(is_staff=True, is_superuser=True)
        data.emails += [data.staff.email, data.admin.email]
        Membership.objects.create(user=data.admin, organization=acme, role=Role.ADMIN)
        _, data.token = AuthToken.objects.create(user=data.admin)
        data.project = make_project(acme, created_by=data.admin, name="Browser project")
        data.task = make_task(acme, project=data.project, created_by=data.admin, title=TASK_TITLE)
    yield data
    with committed(django_db_blocker):
        _delete(data)


def _delete(data) -> None:
    """Remove what `site` and the tests committed, and only that."""
    schemas = []
    for organization in Organization.objects.filter(slug__in=data.slugs):
        # Drops the schema; domain and memberships go with the row.
        schemas.append(organization.schema_name)
        organization.delete(force_drop=True)
    users = list(User.objects.filter(email__in=data.emails))
    user_ids = {str(user.pk) for user in users}
    acme = Organization.objects.get(slug="acme")
    with tenant_context(acme):
        # The base managers: rows in the trash too; the log names these users as actors.
        Task._base_manager.filter(pk=data.task.pk).delete()
        Project._base_manager.filter(pk=data.project.pk).delete()
        Activity.objects.filter(actor__in=users).delete()
        Membership.objects.filter(user__in=users).delete()
        AuthToken.objects.filter(user__in=users).delete()
        LogEntry.objects.filter(user__in=users).delete()
        for session in Session.objects.all():
            if session.get_decoded().get("_auth_user_id") in user_ids:
                session.delete()
        users_delete("id = ANY(%s)", [[user.pk for user in users]])
    assert not User.objects.filter(email__in=data.emails).exists()
    assert not any(schema_exists(schema) for schema in schemas)
