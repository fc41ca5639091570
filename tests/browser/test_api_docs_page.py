"""An organization's API docs (Swagger UI) run requests with a token, in a real browser."""

import pytest

from .conftest import TASK_TITLE, expect

pytestmark = pytest.mark.browser


def test_the_api_docs_on_an_organization_host_run_the_task_list_with_a_token(
    page, site, screenshot
):
    page.goto(site.server.url("acme.localhost", "/api/docs/"))
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Task management API")
    screenshot(page.locator(".swagger-ui .information-container"), "docs")

    page.locator(".scheme-container button.authorize").click()
    token_scheme = page.locator(".auth-container", has_text="knoxApiToken")
    token_scheme.locator("input").fill(site.token)
    token_scheme.locator("button.authorize").click()
    expect(token_scheme).to_contain_text("Authorized")
    screenshot(page.locator(".modal-ux"), "authorized")
    page.locator(".modal-ux button.close-modal").click()

    task_list = page.locator('.opblock-get:has(.opblock-summary-path[data-path="/api/tasks/"])')
    task_list.locator(".opblock-summary").click()
    task_list.get_by_role("button", name="Try it out").click()
    task_list.get_by_role("button", name="Execute").click()

    answer = task_list.locator(".live-responses-table .response")
    expect(answer.locator(".response-col_status")).to_have_text("200")
    expect(answer.locator(".response-col_description")).to_contain_text(TASK_TITLE)
    screenshot(answer, "task-list")
