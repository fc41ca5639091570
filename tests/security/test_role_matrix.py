"""The role matrix (saas/role_matrix.py) drives real requests: every rule as every role, the
answer it gives, and nothing written when it refuses. Every route and method of the tenant
URLconf must have a rule, and the README's table must be the matrix's.

tests/tenant_apps/test_role_matrix.py checks, case by case, what each allowed write does to
the rows; this one keeps the table, the code and the README from drifting apart."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction

from saas.role_matrix import ALLOWED, ROLES, RULES, Rule, readme_table
from tests.factories import client_for

from .database import changed_tables, fingerprint
from .matrix import role_based_routes, rule_request
from .world import OrgWorld

README = Path(settings.BASE_DIR) / "README.md"


def _problem(rule: Rule, role: str, world: OrgWorld) -> str | None:
    """Send the rule's request as `role`; what is wrong with the answer (None: nothing)."""
    url, body = rule_request(rule, role, world)
    client = client_for(world.users[role], world.organization)
    before = fingerprint("public", world.schema())

    send = getattr(client, rule.method.lower())
    response = send(url) if body is None else send(url, body, format="json")

    expected = rule.outcome(role)
    if expected == ALLOWED:
        if not 200 <= response.status_code < 300:
            return f"{response.status_code} {response.content[:200]}, not a 2xx"
    elif response.status_code != expected or "detail" not in response.json():
        return f"{response.status_code} {response.content[:200]}, not {expected}"
    elif changed := changed_tables(before, fingerprint("public", world.schema())):
        return f"refused, yet {changed} changed"
    return None


@pytest.mark.django_db
def test_each_role_gets_what_the_role_matrix_says(acme_world):
    """Every rule as every role, each request from the same starting rows: it runs in a
    savepoint that is rolled back afterwards."""
    failures = []
    for rule in RULES:
        for role in ROLES:
            with transaction.atomic():
                problem = _problem(rule, role, acme_world)
                transaction.set_rollback(True)
            if problem:
                failures.append(f"{rule.label} as {role}: {problem}")
    assert not failures, "\n".join(failures)


def test_every_route_and_method_of_the_tenant_urlconf_has_a_rule_and_no_rule_is_stale():
    served = set()
    for name, route in role_based_routes().items():
        methods = route.methods() - {"HEAD", "OPTIONS"}
        served |= {(name, method) for method in methods}
    ruled = {(rule.route, rule.method) for rule in RULES}

    assert served - ruled == set(), "routes without a rule in saas/role_matrix.py"
    assert ruled - served == set(), "rules for routes the URLconf does not serve"


@pytest.mark.django_db
def test_every_member_may_ask_any_route_what_it_accepts(acme_world):
    """OPTIONS describes an endpoint (DRF's metadata) to any member, whatever their role."""
    for role in ROLES:
        client = client_for(acme_world.users[role], acme_world.organization)
        for route in role_based_routes().values():
            values = {"pk": acme_world.ids[route.model]} if "pk" in route.parameters else {}
            response = client.options(route.path(values))
            assert response.status_code == 200, (role, route.name, response.content)


def test_the_readme_roles_table_is_the_role_matrix():
    text = README.read_text()
    section = text.split("\n## Roles\n", 1)[1].split("\n## ", 1)[0]
    table = "\n".join(re.findall(r"^\|.*\|$", section, flags=re.MULTILINE))

    assert table == readme_table(), "README's Roles table, from saas/role_matrix.py:\n" + (
        readme_table()
    )
