"""OpenAPI schema and Swagger UI: one document per host kind, each valid and warning-free."""

import pytest
import yaml
from django.core.management import call_command

from tests.factories import client_for

pytestmark = pytest.mark.django_db

SCHEMA_URL = "/api/schema/"
DOCS_URL = "/api/docs/"


def _schema(organization) -> dict:
    response = client_for(None, organization).get(SCHEMA_URL)
    assert response.status_code == 200, response.content
    return yaml.safe_load(response.content)


def _assert_bearer_scheme(schema: dict) -> None:
    schemes = schema["components"]["securitySchemes"].values()
    assert any(
        s.get("type") == "http" and s.get("scheme", "").lower() == "bearer" for s in schemes
    ), schemes


def test_the_public_schema_describes_accounts_and_organizations_only(db):
    schema = _schema(None)

    assert schema["openapi"].startswith("3.")
    assert {
        "/api/auth/register/",
        "/api/auth/login/",
        "/api/auth/logout/",
        "/api/auth/me/",
        "/api/orgs/",
    } <= set(schema["paths"])
    assert not [
        path
        for path in schema["paths"]
        if path.startswith(("/api/tasks/", "/api/projects/", "/api/members/"))
    ]
    _assert_bearer_scheme(schema)


def test_the_organization_schema_describes_projects_tasks_and_members_only(acme):
    schema = _schema(acme)

    assert {"/api/tasks/", "/api/tasks/{id}/", "/api/projects/", "/api/members/"} <= set(
        schema["paths"]
    )
    assert not [path for path in schema["paths"] if path.startswith(("/api/auth/", "/api/orgs/"))]
    _assert_bearer_scheme(schema)


def test_the_task_list_documents_its_filters_and_paging(acme):
    operation = _schema(acme)["paths"]["/api/tasks/"]["get"]
    names = {parameter["name"] for parameter in operation["parameters"]}

    assert {
        "project",
        "status",
        "priority",
        "assignee",
        "created_by",
        "due_before",
        "due_after",
        "overdue",
        "search",
        "ordering",
        "cursor",
        "page_size",
    } <= names


@pytest.mark.parametrize("host", ["public", "acme"])
def test_the_swagger_ui_is_served_to_anonymous_visitors(acme, host):
    response = client_for(None, acme if host == "acme" else None).get(DOCS_URL)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"swagger" in response.content.lower()


@pytest.mark.parametrize("urlconf", ["saas.urls_public", "saas.urls_tenants"])
def test_the_generated_schema_validates_without_warnings(db, tmp_path, urlconf):
    target = tmp_path / "schema.yaml"

    call_command(
        "spectacular", "--urlconf", urlconf, "--validate", "--fail-on-warn", "--file", str(target)
    )

    schema = yaml.safe_load(target.read_text())
    assert schema["paths"]
    _assert_bearer_scheme(schema)
