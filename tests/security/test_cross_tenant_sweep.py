"""Cross-tenant sweep: every route of the tenant URLconf, read from Django's resolver (a route
added later is swept without editing this file), with every method, sent to acme's host by
someone who belongs only to globex, and by acme's own ADMIN with globex's ids: refused or not
found on every cell, never a 2xx, never a byte of either organization's data, and not a row
changed in either schema or in public (row counts and checksums of every table)."""

import pytest
from rest_framework.fields import IntegerField, ListField
from rest_framework.relations import ManyRelatedField, RelatedField

from saas.role_matrix import NOT_ROLE_BASED, RULES
from shared_apps.accounts.models import User
from shared_apps.organizations.models import Role
from tests.factories import client_for

from .bodies import tenant_body
from .database import changed_tables, fingerprint
from .routes import METHODS, TENANT_URLCONF, Route, routes
from .world import OrgWorld

pytestmark = pytest.mark.django_db

# Body fields holding ids of rows that are not a serializer relation (the model they name).
ID_LIST_FIELDS = {"assignee_ids": User}


def swept_routes() -> list[Route]:
    """The tenant URLconf's routes, but the API's description (the same for everyone, no
    organization data: tests/security/test_anonymous_sweep.py allows it without a token)."""
    swept = [route for route in routes(TENANT_URLCONF) if route.name not in NOT_ROLE_BASED]
    # The resolver is read for real: every route the role matrix names is among them.
    assert {rule.route for rule in RULES} <= {route.name for route in swept}
    return swept


def url_for(route: Route, world: OrgWorld) -> str:
    """The route's URL with the id of `world`'s object of the route's model."""
    if "pk" not in route.parameters:
        return route.path()
    # A route whose model the world has no object of still gets swept, with id 1.
    return route.path({"pk": world.ids.get(route.model, 1)})


def send(client, method: str, url: str, body: dict | None):
    call = getattr(client, method.lower())
    return call(url) if body is None else call(url, body, format="json")


def schemas(*worlds: OrgWorld) -> list[str]:
    return ["public", *(world.schema() for world in worlds)]


def leaked(response, *worlds: OrgWorld) -> list[str]:
    content = response.content.decode(errors="replace")
    return [world.marker for world in worlds if world.marker in content]


@pytest.mark.parametrize("ids_of", ["acme", "globex"])
def test_a_non_member_is_refused_on_every_route_and_method_and_nothing_changes(
    acme_world, globex_world, ids_of
):
    outsider = client_for(globex_world.users[Role.ADMIN], acme_world.organization)
    id_world = acme_world if ids_of == "acme" else globex_world
    before = fingerprint(*schemas(acme_world, globex_world))
    failures, cells = [], 0

    for route in swept_routes():
        url = url_for(route, id_world)
        supported = route.methods()
        for method in METHODS:
            response = send(outsider, method, url, tenant_body(route.name, method, acme_world))
            cells += 1
            if route.is_api_not_found:
                expected = {404}
            elif supported is None or method in supported:
                expected = {403, 404}
            else:
                expected = {405}
            if response.status_code not in expected or leaked(response, acme_world, globex_world):
                failures.append(f"{method} {url}: {response.status_code} {response.content[:200]}")

    assert not failures, "\n".join(failures)
    assert cells == len(swept_routes()) * len(METHODS)
    assert changed_tables(before, fingerprint(*schemas(acme_world, globex_world))) == []


def test_the_sweeps_urls_reach_real_objects_for_a_member(acme_world):
    """The control: the URLs the sweeps use answer 200 to acme's ADMIN, with acme's data."""
    admin = client_for(acme_world.users[Role.ADMIN], acme_world.organization)
    reached = []
    for route in swept_routes():
        if route.is_api_not_found or "GET" not in (route.methods() or ()):
            continue
        url = url_for(route, acme_world)
        response = admin.get(url)
        assert response.status_code == 200, (url, response.content[:300])
        if "pk" in route.parameters:
            assert acme_world.marker in b"".join(response).decode(), url
        reached.append(route.name)
    assert {"task-detail", "export-download", "member-detail", "dashboard"} <= set(reached)


def test_a_member_sending_another_organizations_ids_in_urls_gets_404_and_nothing_changes(
    acme_world, globex_world
):
    admin = client_for(acme_world.users[Role.ADMIN], acme_world.organization)
    before = fingerprint(*schemas(acme_world, globex_world))
    failures, cells = [], 0

    for route in swept_routes():
        if "pk" not in route.parameters:
            continue
        url = url_for(route, globex_world)
        supported = route.methods()
        for method in METHODS:
            response = send(admin, method, url, tenant_body(route.name, method, acme_world))
            cells += 1
            if method == "OPTIONS":
                expected = {200}  # describes the endpoint; reads no object
            elif method in supported:
                expected = {404}
            else:
                expected = {405}
            if response.status_code not in expected or leaked(response, globex_world):
                failures.append(f"{method} {url}: {response.status_code} {response.content[:200]}")

    assert not failures, "\n".join(failures)
    assert cells >= 10 * len(METHODS)  # ten detail routes today
    assert changed_tables(before, fingerprint(*schemas(acme_world, globex_world))) == []


def reference_fields(route: Route, method: str) -> dict[str, type]:
    """{field name: model} of the ids the write's body may hold, from the serializer the
    view uses for that action; a field that looks like ids but names no model fails."""
    view = route.view_class(action=route.actions[method], kwargs={}, format_kwarg=None)
    fields = view.get_serializer_class()().fields
    found = {}
    for name, field in fields.items():
        if field.read_only:
            continue
        if isinstance(field, ManyRelatedField):
            found[name] = field.child_relation.queryset.model
        elif isinstance(field, RelatedField):
            found[name] = field.queryset.model
        elif isinstance(field, ListField) and isinstance(field.child, IntegerField):
            assert name in ID_LIST_FIELDS, f"{route.name} {method}: which model do {name} name?"
            found[name] = ID_LIST_FIELDS[name]
        elif name.endswith(("_id", "_ids")):
            assert name in ID_LIST_FIELDS, f"{route.name} {method}: which model does {name} name?"
            found[name] = ID_LIST_FIELDS[name]
    return found


def test_a_member_sending_another_organizations_ids_in_bodies_gets_400_and_nothing_changes(
    acme_world, globex_world
):
    admin = client_for(acme_world.users[Role.ADMIN], acme_world.organization)
    # Rows of globex only: a globex-only user, and globex's ids of tenant rows.
    foreign = {**globex_world.ids, User: globex_world.users["spare"].pk}
    before = fingerprint(*schemas(acme_world, globex_world))
    failures, sent = [], []

    for route in swept_routes():
        for method, _action in route.actions.items():
            if method not in ("POST", "PUT", "PATCH"):
                continue
            body = tenant_body(route.name, method, acme_world)
            for name, model in reference_fields(route, method).items():
                assert body is not None, f"{route.name} {method}: add its body to bodies.py"
                value = foreign[model]
                forged = {**body, name: [value] if name in ID_LIST_FIELDS else value}
                url = url_for(route, acme_world)
                response = send(admin, method, url, forged)
                sent.append((route.name, method, name))
                if response.status_code != 400 or name not in response.json():
                    failures.append(f"{method} {url} {name}={value}: {response.status_code}")

    assert not failures, "\n".join(failures)
    assert {("task-list", "POST", "project"), ("task-detail", "PATCH", "assignee_ids")} <= set(sent)
    assert changed_tables(before, fingerprint(*schemas(acme_world, globex_world))) == []
