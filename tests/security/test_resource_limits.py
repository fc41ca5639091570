"""Resource limits on every endpoint (read from the resolver): a huge page_size is capped, a
body over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413, deeply nested JSON a 400, 10,000 assignees a
400, and a 10,000-character value in any query parameter or body field a 400 or a bounded
answer; none of them a 500, a slow request or a slow query.

tests/test_errors.py checks the exact message of each of these on one endpoint."""

import json
import time

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import resolve
from django_tenants.utils import tenant_context
from drf_spectacular.generators import SchemaGenerator

from saas.api.pagination import KeysetPagination
from shared_apps.organizations.models import Role
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.serializers import MAX_ASSIGNEES
from tests.factories import client_for

from .bodies import tenant_body
from .routes import PUBLIC_URLCONF, TENANT_URLCONF, Route, routes
from .world import OrgWorld

pytestmark = pytest.mark.django_db

TOO_BIG = b'{"name": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + b'"}'
DEEP = b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
LONG = "x" * 10_000
HUGE_PAGE_SIZES = ("1000000", "9" * 30)
# Parameters that take comma-separated values, with a valid one.
LIST_PARAMETERS = {"status": "NEW", "priority": "HIGH", "verb": "created"}
# Generous, for a busy 2-core machine: what they guard against (a scan or a loop growing with
# the input) takes far longer; these requests take milliseconds.
REQUEST_SECONDS = 5.0
QUERY_SECONDS = 1.0
MAX_QUERIES = 30


def _timed(send, *args, **kwargs):
    """The response, and what it cost: wall time, the SQL statements and the slowest one."""
    with CaptureQueriesContext(connection) as queries:
        started = time.monotonic()
        response = send(*args, **kwargs)
        elapsed = time.monotonic() - started
    slowest = max((float(query["time"]) for query in queries.captured_queries), default=0.0)
    return response, elapsed, len(queries.captured_queries), slowest


def _cost_problem(elapsed: float, count: int, slowest: float) -> str | None:
    if elapsed > REQUEST_SECONDS:
        return f"took {elapsed:.2f} s"
    if slowest > QUERY_SECONDS:
        return f"a query took {slowest:.2f} s"
    if count > MAX_QUERIES:
        return f"{count} queries"
    return None


def _url(route: Route, world: OrgWorld) -> str:
    return route.path({"pk": world.ids.get(route.model, 1)} if "pk" in route.parameters else {})


def _api_routes(urlconf: str) -> list[Route]:
    return [
        route
        for route in routes(urlconf)
        if route.route.startswith("api/") and not route.is_api_not_found and route.methods()
    ]


def _client(world: OrgWorld, urlconf: str):
    admin = world.users[Role.ADMIN]
    return client_for(admin, world.organization if urlconf == TENANT_URLCONF else None)


def _list_parameters(route: Route) -> set[str]:
    """The query parameters a GET of the route reads: its filters, paging and ordering, and
    those its OpenAPI description lists (the dashboard's `project`)."""
    view = route.view_class
    names = {"page_size", "cursor", "ordering", "project", "search"}
    filterset = getattr(view, "filterset_class", None)
    if filterset is not None:
        names |= set(filterset.base_filters)
    return names


@pytest.fixture
def many_tasks(acme_world) -> int:
    """More tasks in acme than the largest page holds."""
    count = KeysetPagination.max_page_size + 5
    with tenant_context(acme_world.organization):
        Task.objects.bulk_create(
            Task(
                project=acme_world.project, title=f"Bulk {i}", created_by=acme_world.users["spare"]
            )
            for i in range(count)
        )
    return count


def test_a_huge_page_size_is_capped_on_every_list(acme_world, many_tasks):
    failures = []
    for urlconf in (TENANT_URLCONF, PUBLIC_URLCONF):
        client = _client(acme_world, urlconf)
        for route in _api_routes(urlconf):
            if route.actions.get("GET") != "list":
                continue
            for size in HUGE_PAGE_SIZES:
                response, *cost = _timed(client.get, _url(route, acme_world), {"page_size": size})
                problem = _cost_problem(*cost)
                if response.status_code == 200:
                    body = response.json()
                    rows = body["results"] if isinstance(body, dict) else body
                    if len(rows) > KeysetPagination.max_page_size:
                        problem = f"{len(rows)} rows"
                elif response.status_code != 400:
                    problem = f"{response.status_code}"
                if problem:
                    failures.append(f"GET {route.name} page_size={size}: {problem}")
    assert not failures, "\n".join(failures)

    page = _client(acme_world, TENANT_URLCONF).get("/api/tasks/", {"page_size": "1000000"}).json()
    assert len(page["results"]) == KeysetPagination.max_page_size
    assert page["next"] is not None


@pytest.mark.parametrize(
    ("body", "statuses"), [(TOO_BIG, {413}), (DEEP, {400})], ids=["over-the-limit", "deep"]
)
def test_an_oversized_or_deeply_nested_body_is_refused_by_every_write(acme_world, body, statuses):
    """Every operation that reads a body (writes without one never read it)."""
    failures, sent = [], 0
    for urlconf in (TENANT_URLCONF, PUBLIC_URLCONF):
        client = _client(acme_world, urlconf)
        for path, method in _request_bodies(urlconf):
            url, _ = _operation_url(path, urlconf, acme_world)
            response, *cost = _timed(client.generic, method, url, body, "application/json")
            sent += 1
            problem = _cost_problem(*cost)
            if response.status_code not in statuses:
                problem = f"{response.status_code} {response.content[:100]}"
            elif "detail" not in response.json():
                problem = "no detail"
            if problem:
                failures.append(f"{method} {path}: {problem}")
    assert not failures, "\n".join(failures)
    assert sent > 15


def test_ten_thousand_assignees_are_a_400(acme_world):
    client = _client(acme_world, TENANT_URLCONF)
    ids = list(range(1, 10_001))
    created = client.post(
        "/api/tasks/",
        {"project": acme_world.project.pk, "title": "Crowded", "assignee_ids": ids},
        format="json",
    )
    updated = client.patch(
        f"/api/tasks/{acme_world.tasks['spare'].pk}/", {"assignee_ids": ids}, format="json"
    )
    for response in (created, updated):
        assert response.status_code == 400
        assert f"no more than {MAX_ASSIGNEES}" in response.json()["assignee_ids"][0]


@pytest.mark.parametrize("urlconf", [TENANT_URLCONF, PUBLIC_URLCONF])
def test_a_ten_thousand_character_query_value_is_refused_or_bounded(acme_world, urlconf):
    client = _client(acme_world, urlconf)
    failures, sent = [], 0
    for route in _api_routes(urlconf):
        # Lists (filters, paging, ordering) and plain views' GETs (the dashboard's project).
        if route.actions.get("GET", "list") != "list" or "GET" not in route.methods():
            continue
        for name in sorted(_list_parameters(route)):
            values = [LONG, "9" * 10_000]
            if name in LIST_PARAMETERS:  # comma-separated: 2,500 valid items
                values.append(",".join([LIST_PARAMETERS[name]] * 2_500))
            for value in values:
                response, *cost = _timed(client.get, _url(route, acme_world), {name: value})
                sent += 1
                problem = _cost_problem(*cost)
                if response.status_code not in (200, 400):
                    problem = f"{response.status_code} {response.content[:100]}"
                if problem:
                    failures.append(f"GET {route.name} ?{name}=<{len(value)} chars>: {problem}")
    assert not failures, "\n".join(failures)
    assert sent > 0


def _request_bodies(urlconf: str) -> dict[tuple[str, str], dict[str, dict]]:
    """{(path, method): {field: its schema}} of every operation that takes a JSON body, as
    the API's OpenAPI document describes it (so a new endpoint is covered too)."""
    schema = SchemaGenerator(urlconf=urlconf).get_schema(request=None, public=True)
    components = schema.get("components", {}).get("schemas", {})

    def resolved(node: dict) -> dict:
        ref = node.get("$ref", "")
        return components[ref.rsplit("/", 1)[1]] if ref else node

    found = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:
                properties = resolved(body["schema"]).get("properties", {})
                found[(path, method.upper())] = {
                    name: resolved(spec) for name, spec in properties.items()
                }
    return found


def _operation_url(path: str, urlconf: str, world: OrgWorld) -> tuple[str, str | None]:
    """A document path as a URL with the id of the world's object, and its route name."""
    match = resolve(path.replace("{id}", "1"), urlconf)
    model = next((r.model for r in routes(urlconf) if r.name == match.url_name), None)
    return path.replace("{id}", str(world.ids.get(model, 1))), match.url_name


@pytest.mark.parametrize("urlconf", [TENANT_URLCONF, PUBLIC_URLCONF])
def test_a_ten_thousand_character_body_field_is_refused_or_bounded(acme_world, urlconf):
    """Every string field of every write's body, 10,000 characters long (the rest of the body
    valid where the tests know one): a 400 wherever the field documents a smaller maxLength."""
    client = _client(acme_world, urlconf)
    failures, sent = [], 0
    for (path, method), fields in _request_bodies(urlconf).items():
        url, name = _operation_url(path, urlconf, acme_world)
        base = tenant_body(name, method, acme_world) if urlconf == TENANT_URLCONF else None
        strings = {
            field: spec.get("maxLength")
            for field, spec in fields.items()
            if spec.get("type") == "string"
        }
        for name, max_length in sorted(strings.items()):
            body = json.dumps({**(base or {}), name: LONG}).encode()
            response, *cost = _timed(client.generic, method, url, body, "application/json")
            sent += 1
            problem = _cost_problem(*cost)
            if response.status_code >= 500:
                problem = f"{response.status_code} {response.content[:100]}"
            elif max_length is not None and max_length < len(LONG) and response.status_code < 300:
                problem = f"{response.status_code}: took more than its maxLength {max_length}"
            if problem:
                failures.append(f"{method} {path} {name}=<10,000 chars>: {problem}")
    assert not failures, "\n".join(failures)
    assert sent > 10
