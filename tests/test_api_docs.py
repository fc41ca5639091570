"""OpenAPI schema and Swagger UI: one document per host kind, each valid and warning-free."""

import pytest
import yaml
from django.core.management import call_command

from tenant_apps.projects.models import DESCRIPTION_MAX_LENGTH
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


# --- documented errors (saas/api/openapi.py) ---------------------------------------------------


def _codes(operation: dict) -> set[str]:
    return {code for code in operation["responses"] if not code.startswith("2")}


def test_an_organization_write_documents_each_error_it_can_give(acme):
    schema = _schema(acme)
    patch = schema["paths"]["/api/tasks/{id}/"]["patch"]

    assert _codes(patch) == {"400", "401", "403", "404", "413", "415", "429"}
    assert patch["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationError"
    }
    for code in ("401", "403", "404", "413", "415"):
        schema_ref = patch["responses"][code]["content"]["application/json"]["schema"]
        assert schema_ref == {"$ref": "#/components/schemas/Error"}
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail"]


def test_reads_document_only_the_errors_they_can_give(acme):
    paths = _schema(acme)["paths"]

    # Every operation is rate limited (429); the rest depends on the operation.
    assert _codes(paths["/api/tasks/"]["get"]) == {"400", "401", "403", "429"}  # no object
    assert _codes(paths["/api/tasks/{id}/"]["get"]) == {"401", "403", "404", "429"}


def test_public_operations_document_auth_errors_only_where_they_authenticate(db):
    paths = _schema(None)["paths"]

    assert _codes(paths["/api/auth/login/"]["post"]) == {"400", "413", "415", "429"}
    assert _codes(paths["/api/auth/me/"]["get"]) == {"401", "429"}


def test_optional_query_parameters_may_be_sent_empty(acme):
    parameters = _schema(acme)["paths"]["/api/tasks/"]["get"]["parameters"]

    assert all(
        parameter.get("allowEmptyValue") for parameter in parameters if parameter["in"] == "query"
    )


def test_project_and_task_descriptions_document_one_maximum(acme):
    components = _schema(acme)["components"]["schemas"]

    lengths = {
        components[name]["properties"]["description"].get("maxLength")
        for name in ("ProjectRequest", "TaskWriteRequest")
    }
    assert lengths == {DESCRIPTION_MAX_LENGTH}
