"""A valid body for each write of an organization's API: the sweeps send requests that would
succeed for a caller who is allowed, so a refusal that failed would show as a write."""

from collections.abc import Callable

from shared_apps.organizations.models import Role

from .world import OrgWorld

Body = Callable[[OrgWorld], dict]

# (route name, method) -> body. Writes without a body (DELETE, restore, resend) are absent.
TENANT_BODIES: dict[tuple[str, str], Body] = {
    ("member-list", "POST"): lambda w: {
        "email": f"sweep-invitee-{w.organization.slug}@test.example.com",
        "role": Role.MEMBER,
    },
    ("member-detail", "PATCH"): lambda w: {"role": Role.MANAGER},
    ("project-list", "POST"): lambda w: {"name": "Planted project"},
    ("project-detail", "PUT"): lambda w: {"name": "Replaced project", "description": "x"},
    ("project-detail", "PATCH"): lambda w: {"name": "Renamed project"},
    ("task-list", "POST"): lambda w: {
        "project": w.project.pk,
        "title": "Planted task",
        "assignee_ids": [w.users[Role.MEMBER].pk],
    },
    ("task-detail", "PUT"): lambda w: {"project": w.project.pk, "title": "Replaced task"},
    ("task-detail", "PATCH"): lambda w: {"title": "Retitled task"},
    ("export-list", "POST"): lambda w: {},
}


def tenant_body(route_name: str | None, method: str, world: OrgWorld) -> dict | None:
    """The valid body of this write on `world`'s host (None: the write takes none)."""
    build = TENANT_BODIES.get((route_name, method))
    return None if build is None else build(world)
