"""The requests of the role matrix's rules (saas/role_matrix.py) on a world's host."""

from saas.role_matrix import NOT_ROLE_BASED, Rule
from shared_apps.organizations.models import Invitation, Membership
from tenant_apps.exports.models import Export
from tenant_apps.projects.models import Project
from tenant_apps.tasks.models import Status, Task

from .bodies import tenant_body
from .routes import TENANT_URLCONF, Route, routes
from .world import OrgWorld

# Bodies some rules name, where the body decides (a MEMBER may change `status` only).
NAMED_BODIES = {"status": {"status": Status.DONE}, "title": {"title": "Retitled by the matrix"}}


def role_based_routes() -> dict[str, Route]:
    """{name: route} of the tenant URLconf's routes whose answer depends on the role."""
    return {
        route.name: route
        for route in routes(TENANT_URLCONF)
        if not route.is_api_not_found and route.name not in NOT_ROLE_BASED
    }


def target_id(rule: Rule, route: Route, role: str, world: OrgWorld) -> int:
    """The id of what the rule acts on, for the caller `role`."""
    if rule.target == "trashed":
        return {Task: world.trashed_task, Project: world.trashed_project}[route.model].pk
    key = role if rule.target == "own" else "spare"
    return {
        Membership: world.memberships[key],
        Task: world.tasks[key],
        Export: world.exports[key],
        Project: world.project,
        Invitation: world.invitation,
    }[route.model].pk


def rule_request(rule: Rule, role: str, world: OrgWorld) -> tuple[str, dict | None]:
    """The URL and body of the rule's request, sent by `role`."""
    route = role_based_routes()[rule.route]
    values = {"pk": target_id(rule, route, role, world)} if "pk" in route.parameters else {}
    url = route.path(values) + (f"?{rule.query}" if rule.query else "")
    body = NAMED_BODIES[rule.body] if rule.body else tenant_body(rule.route, rule.method, world)
    return url, body
