"""Every error under /api/ is JSON, with DEBUG off and on: a table of bad requests (unknown URLs,
misplaced endpoints, oversized, malformed and deep bodies, bad tokens, refused changes, and every
malformed parameter of every list), each with its status and a message naming what is wrong."""

from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from shared_apps.organizations.models import Role
from tests.factories import client_for, make_member, make_project, make_task

pytestmark = pytest.mark.django_db

DEEP = b"[" * 200_000  # about 200 KB of nesting
TOO_BIG = b'{"name": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + b'"}'
DETAIL = "detail"


@dataclass(frozen=True)
class Bad:
    """One bad request and the answer expected: status, the key that names the problem (a
    parameter or field, or `detail`), and words the message must contain."""

    name: str
    method: str
    path: str
    status: int
    key: str
    says: str = ""
    query: dict = field(default_factory=dict)
    body: bytes | None = None
    host: str = "acme"  # or "public"
    caller: str = "manager"  # manager, member, admin, nobody
    headers: dict = field(default_factory=dict)


def _bad_parameters(path: str, caller: str, parameters: dict[str, list[tuple[str, str]]]):
    """One Bad per malformed value of each query parameter of the list at `path`."""
    return [
        Bad(
            f"{path} ?{name}={value[:20]!r}",
            "GET",
            path,
            400,
            name,
            says,
            query={name: value},
            caller=caller,
        )
        for name, cases in parameters.items()
        for value, says in cases
    ]


PAGINATION = {
    "cursor": [("garbage", "Invalid cursor"), ("eyJrIjogMX0=", "Invalid cursor")],
    "page_size": [("abc", "whole number"), ("0", "at least 1"), ("-3", "at least 1")],
    "ordering": [("bogus", "Use one of"), ("--created_at", "Use one of")],
}
TASK_FILTERS = {
    "project": [("abc", "whole number"), ("1.5", "whole number"), ("0", "greater than")],
    "status": [("BOGUS", "NEW, IN_PROGRESS, DONE"), ("NEW,BOGUS", "NEW, IN_PROGRESS, DONE")],
    "priority": [("URGENT", "LOW, MEDIUM, HIGH")],
    "assignee": [("abc", '"me"'), ("0", '"me"'), ("-1", '"me"')],
    "created_by": [("abc", "whole number"), ("0", "greater than")],
    "due_before": [("2026-13-45", "Not a valid date"), ("31/12/2026", "YYYY-MM-DD")],
    "due_after": [("2026-02-30", "Not a valid date"), ("tomorrow", "YYYY-MM-DD")],
    "overdue": [("1", "true or false"), ("yes", "true or false")],
    "search": [("x" * 201, "at most 200"), ("a\x00b", "Null characters")],
}

LISTS = [
    *_bad_parameters("/api/tasks/", "member", {**PAGINATION, **TASK_FILTERS}),
    *_bad_parameters("/api/projects/", "member", PAGINATION),
    *_bad_parameters("/api/members/", "member", PAGINATION),
    *_bad_parameters("/api/invitations/", "admin", PAGINATION),
]

REQUESTS = [
    # Unknown URLs, any method, with or without the slash.
    Bad("unknown tenant URL", "GET", "/api/nope/", 404, DETAIL, "Not found"),
    Bad("unknown tenant URL, POST", "POST", "/api/nope", 404, DETAIL, "Not found"),
    Bad("bare /api", "GET", "/api", 404, DETAIL, "Not found"),
    Bad("unknown public URL", "GET", "/api/nope/", 404, DETAIL, "Not found", host="public"),
    Bad(
        "unknown public URL, POST",
        "POST",
        "/api/nope/deeper",
        404,
        DETAIL,
        "Not found",
        host="public",
    ),
    Bad("unknown id shape", "PATCH", "/api/tasks/1.5/", 404, DETAIL, "Not found"),
    # Endpoints asked for on the wrong host say where they are.
    Bad("projects on the base host", "GET", "/api/projects/", 404, DETAIL, "<slug>.", host="public"),
    Bad("tasks on the base host", "POST", "/api/tasks", 404, DETAIL, "<slug>.", host="public"),
    Bad("a task on the base host", "GET", "/api/tasks/7/", 404, DETAIL, "subdomain", host="public"),
    Bad("login on a tenant host", "POST", "/api/auth/login/", 404, DETAIL, "/api/auth/login/"),
    Bad("orgs on a tenant host", "GET", "/api/orgs/", 404, DETAIL, "base host"),
    # Bodies.
    Bad("body over the limit", "POST", "/api/projects/", 413, DETAIL, "2621440", body=TOO_BIG),
    Bad("malformed JSON", "POST", "/api/projects/", 400, DETAIL, "JSON parse", body=b'{"name":'),
    Bad("not UTF-8", "POST", "/api/projects/", 400, DETAIL, "JSON parse", body=b'{"name":"\xff"}'),
    Bad("deep JSON, login", "POST", "/api/auth/login/", 400, DETAIL, "nested", body=DEEP, host="public", caller="nobody"),
    Bad("deep JSON, register", "POST", "/api/auth/register/", 400, DETAIL, "nested", body=DEEP, host="public", caller="nobody"),
    Bad("deep JSON, tasks", "POST", "/api/tasks/", 400, DETAIL, "nested", body=DEEP),
    Bad("deep JSON in a field", "POST", "/api/projects/", 400, DETAIL, "nested", body=b'{"name":' + b"[" * 40 + b"]" * 40 + b"}"),
    Bad("lone surrogate", "PATCH", "/api/tasks/{task}/", 400, "status", "surrogate", body=b'{"status": "\\ud800"}'),
    Bad("impossible due date", "PATCH", "/api/tasks/{task}/", 400, "due_date", "Not a valid date", body=b'{"due_date": "2026-13-45"}'),
    Bad("project description too long", "POST", "/api/projects/", 400, "description", "20000", body=b'{"name": "x", "description": "' + b"y" * 20_001 + b'"}'),
    Bad("task description too long", "PATCH", "/api/tasks/{task}/", 400, "description", "20000", body=b'{"description": "' + b"y" * 20_001 + b'"}'),
    # Methods, permissions, tokens.
    Bad("method the route lacks", "PUT", "/api/members/{member}/", 405, DETAIL, '"PUT" not allowed', caller="admin"),
    Bad("a MEMBER's PATCH beyond status", "PATCH", "/api/tasks/{task}/", 403, DETAIL, "only `status`", body=b'{"title": "Mine now"}', caller="member"),
    Bad("Token prefix", "GET", "/api/tasks/", 401, DETAIL, "Bearer", caller="nobody", headers={"HTTP_AUTHORIZATION": "Token abc"}),
    Bad("non-UTF-8 token", "GET", "/api/tasks/", 401, DETAIL, "Invalid token", caller="nobody", headers={"HTTP_AUTHORIZATION": "Bearer \xff\xfe\xfd"}),
    Bad("non-UTF-8 token, base host", "GET", "/api/auth/me/", 401, DETAIL, "Invalid token", host="public", caller="nobody", headers={"HTTP_AUTHORIZATION": "Bearer \xc3\x28"}),
    Bad("cursor with a lone surrogate", "GET", "/api/projects/", 400, "cursor", "Invalid cursor", query={"ordering": "name", "cursor": "eyJrIjoiXHVkODAwIiwiaSI6MSwiYiI6ZmFsc2UsIm8iOiJuYW1lIn0="}),
    Bad("too many parameters", "GET", "/api/tasks/?" + "&".join(f"p{i}=1" for i in range(1001)), 400, DETAIL, "at most 1000"),
]  # fmt: skip


@pytest.fixture
def world(acme, acme_admin, acme_manager, acme_member):
    """acme with a project and a task assigned to its MEMBER; clients for each caller."""
    project = make_project(acme, created_by=acme_manager)
    task = make_task(acme, project=project, created_by=acme_manager, assignee_ids=[acme_member.pk])
    users = {"admin": acme_admin, "manager": acme_manager, "member": acme_member, "nobody": None}
    return {
        "ids": {"task": task.pk, "member": acme_member.pk},
        "client": lambda caller, host: client_for(users[caller], acme if host == "acme" else None),
    }


def _send(world, bad: Bad):
    client: APIClient = world["client"](bad.caller, bad.host)
    path = bad.path.format(**world["ids"])
    if bad.query:
        path = f"{path}?{urlencode(bad.query)}"
    return client.generic(
        bad.method, path, bad.body or b"", content_type="application/json", **bad.headers
    )


def _text(value) -> str:
    if isinstance(value, dict):
        return " ".join(_text(item) for item in value.values())
    if isinstance(value, list):
        return " ".join(_text(item) for item in value)
    return str(value)


@pytest.mark.parametrize("debug", [False, True], ids=["DEBUG-off", "DEBUG-on"])
@pytest.mark.parametrize("bad", REQUESTS + LISTS, ids=lambda bad: bad.name)
def test_a_bad_request_answers_json_naming_the_problem(world, settings, debug, bad):
    settings.DEBUG = debug

    response = _send(world, bad)

    assert response.status_code == bad.status, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json", response.content[:300]
    body = response.json()
    assert bad.key in body, body
    assert bad.says in _text(body[bad.key]), body


# --- the routes that exist -----------------------------------------------------------------------


@pytest.mark.parametrize("debug", [False, True], ids=["DEBUG-off", "DEBUG-on"])
@pytest.mark.parametrize("slash", ["/", ""], ids=["slash", "no-slash"])
def test_writes_work_with_or_without_the_trailing_slash(world, acme, settings, debug, slash):
    settings.DEBUG = debug
    admin = world["client"]("admin", "acme")

    created = admin.post(f"/api/projects{slash}", {"name": f"P{slash}{debug}"}, format="json")
    assert created.status_code == 201, created.content
    project_id = created.json()["id"]
    renamed = admin.patch(f"/api/projects/{project_id}{slash}", {"name": "R"}, format="json")
    assert renamed.status_code == 200, renamed.content
    assert admin.delete(f"/api/projects/{project_id}{slash}").status_code == 204

    login = world["client"]("nobody", "public").post(
        f"/api/auth/login{slash}", {"email": "no-one@test.example.com", "password": "x"}
    )
    assert login.status_code == 400, login.content  # reached the view: wrong credentials
    assert admin.get(f"/api/tasks{slash}").status_code == 200


def test_a_list_reached_without_the_slash_links_its_pages_with_it(world):
    manager = world["client"]("manager", "acme")
    manager.post("/api/projects/", {"name": "Second"}, format="json")

    response = manager.get("/api/projects", {"page_size": 1})

    assert response.status_code == 200
    assert "/api/projects/?" in response.json()["next"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/api/members/{member}/"),
        ("POST", "/api/tasks/{task}/"),
        ("PUT", "/api/tasks/"),
        ("DELETE", "/api/projects/"),
        ("PATCH", "/api/invitations/"),
    ],
)
@pytest.mark.parametrize("caller", ["admin", "manager", "member", "nobody"])
def test_a_method_the_route_lacks_is_405_whoever_asks(world, method, path, caller):
    response = world["client"](caller, "acme").generic(
        method, path.format(**world["ids"]), b"{}", content_type="application/json"
    )

    assert response.status_code == 405, (caller, response.content)
    assert response.json() == {"detail": f'Method "{method}" not allowed.'}
    assert method not in response["Allow"]


def test_a_signed_in_non_member_is_told_they_are_not_a_member(acme, globex):
    outsider = client_for(make_member(globex, Role.ADMIN), acme)

    response = outsider.get("/api/tasks/")

    assert response.status_code == 403
    assert response.json() == {"detail": "You are not a member of this organization."}


def test_the_base_host_hint_names_the_base_domain(world):
    response = world["client"]("nobody", "public").get("/api/projects/")

    assert f"<slug>.{settings.BASE_DOMAIN}" in response.json()["detail"]
