"""Staff onboard organizations in the admin, in a real browser against the real server."""

import re
import secrets
import time
from email import message_from_bytes, policy

import pytest

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Organization
from tests.dev_server import committed

from .conftest import VIEWPORT, expect

pytestmark = pytest.mark.browser

ADD_ORGANIZATION = "/admin/organizations/organization/add/"


def _log_into_the_admin(page, site, screenshot=None) -> None:
    page.goto(site.server.url(path="/admin/login/"))
    if screenshot:
        screenshot(page, "login")
    page.fill("#id_username", site.staff.email)
    page.fill("#id_password", site.password)
    page.click("input[type=submit]")
    expect(page).to_have_url(site.server.url(path="/admin/"))


def test_an_invalid_subdomain_is_refused_on_the_form_and_nothing_is_created(
    page, site, screenshot, django_db_blocker
):
    email = "refused-admin@test.example.com"
    site.emails.append(email)
    _log_into_the_admin(page, site)
    page.goto(site.server.url(path=ADD_ORGANIZATION))
    screenshot(page, "add-form")

    page.fill("#id_name", "Refused Co")
    page.fill("#id_slug", "Refused Co!")
    page.fill("#id_admin_email", email)
    page.click("input[name=_save]")

    expect(page.locator(".field-slug .errorlist")).to_have_text(
        "Use only lowercase letters (a-z), digits and hyphens."
    )
    expect(page.locator("#id_slug")).to_have_value("Refused Co!")
    screenshot(page, "refused")
    with committed(django_db_blocker):
        assert not Organization.objects.filter(name="Refused Co").exists()
        assert not User.objects.filter(email=email).exists()


def _fits(page, selector: str) -> bool:
    """Whether the element shows all its content without scrolling sideways."""
    return page.evaluate(
        "selector => { const box = document.querySelector(selector);"
        " return box.scrollWidth <= box.clientWidth; }",
        selector,
    )


def test_the_admin_pages_fit_1280_px_and_show_each_thing_once(page, site, screenshot):
    _log_into_the_admin(page, site)
    screenshot(page, "index")
    organizations = site.server.url(path="/admin/organizations/organization/")
    page.goto(organizations)
    screenshot(page, "organizations")
    # Every column, the URL included, is visible without scrolling the list sideways.
    assert _fits(page, "#changelist .results")
    expect(page.locator("#result_list")).to_contain_text(f"acme.localhost:{site.server.port}")

    page.get_by_role("link", name="Acme Corp").click()
    screenshot(page, "organization")
    content = page.locator("#content-main").inner_text()
    assert content.count("acme.localhost") == 1, content

    page.goto(site.server.url(path="/admin/organizations/membership/"))
    screenshot(page, "memberships")
    assert _fits(page, "#changelist .results")
    organization_filter = page.locator("#changelist-filter").inner_text()
    assert "Acme Corp" in organization_filter
    assert "Public site" not in organization_filter

    page.goto(site.server.url(path=f"/admin/accounts/user/{site.admin.pk}/change/"))
    screenshot(page, "user")
    memberships = page.locator("#memberships-group")
    expect(memberships).to_contain_text("Acme Corp")
    expect(memberships).to_contain_text("Admin")

    page.get_by_role("link", name="View site").click()
    expect(page).to_have_url(site.server.url(path="/api/docs/"))


def _emailed_link(mail_dir, email: str) -> str:
    """The set-password link in the newest email the server wrote for `email`."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for path in sorted(mail_dir.glob("*"), key=lambda path: path.stat().st_mtime, reverse=True):
            for raw in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
                message = message_from_bytes(raw, policy=policy.default)
                if email not in str(message.get("To", "")):
                    continue
                text = message.get_body(preferencelist=("plain", "html")).get_content()
                found = re.search(r"https?://[^\s\"'<>]+/accounts/reset/[^\s\"'<>]+/", text)
                assert found, text
                return found.group(0)
        time.sleep(0.2)
    raise AssertionError(f"No email to {email} in {mail_dir}")


def test_staff_onboard_an_organization_whose_first_admin_sets_a_password_and_uses_the_api(
    browser, page, site, screenshot
):
    suffix = secrets.token_hex(3)
    slug, email = f"browser-{suffix}", f"first-admin-{suffix}@test.example.com"
    site.slugs.append(slug)
    site.emails.append(email)
    password = secrets.token_urlsafe(12)

    _log_into_the_admin(page, site, screenshot)
    page.goto(site.server.url(path=ADD_ORGANIZATION))
    page.fill("#id_name", f"Browser Co {suffix}")
    page.fill("#id_slug", slug)
    page.fill("#id_admin_email", email)
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text(email)
    screenshot(page, "onboarded")

    # The new admin, in a browser of their own, follows the emailed link.
    link = _emailed_link(site.server.mail_dir, email)
    assert link.startswith(site.server.url(path="/accounts/reset/")), link
    newcomer = browser.new_context(viewport=VIEWPORT)
    own_page = newcomer.new_page()
    own_page.goto(link)
    screenshot(own_page, "set-password")
    own_page.fill("[name=new_password1]", password)
    own_page.fill("[name=new_password2]", password)
    own_page.locator('form:has([name="new_password1"]) [type=submit]').click()
    expect(own_page).to_have_url(site.server.url(path="/accounts/reset/done/"))
    screenshot(own_page, "password-set")

    login = newcomer.request.post(
        site.server.url(path="/api/auth/login/"), data={"email": email, "password": password}
    )
    assert login.status == 200, login.text()
    token = login.json()["token"]
    newcomer.close()

    # The token works on the new organization's own subdomain, whose task list is empty.
    api = browser.new_context(
        viewport=VIEWPORT, extra_http_headers={"Authorization": f"Bearer {token}"}
    )
    tasks_page = api.new_page()
    tasks_url = site.server.url(f"{slug}.localhost", "/api/tasks/")
    assert tasks_page.goto(tasks_url).status == 200
    screenshot(tasks_page, "empty-task-list")
    answer = tasks_page.goto(f"{tasks_url}?format=json")
    assert answer.status == 200
    assert answer.json()["results"] == []
    api.close()
