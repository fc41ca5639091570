"""Organizations with marker rows, for tests that check every answer came from the right
organization; committed for real (servers in other processes must see them), removed after.

`python -m tests.faults.tenants PREFIX COUNT [--migrate]` does the same against the
DATABASE_URL of its environment (a private PostgreSQL cluster) and prints them as JSON.
"""

import json
import sys
from dataclasses import asdict, dataclass

# Each organization's rows carry its slug: "marker <slug>" names its project and starts its
# tasks' titles, so any row in an answer tells which organization it came from.
MARKER = "marker {slug}"
TASKS_PER_ORGANIZATION = 3


@dataclass
class Tenant:
    slug: str
    host: str
    schema_name: str
    token: str
    user_id: int
    project_id: int

    @property
    def marker(self) -> str:
        return MARKER.format(slug=self.slug)


def make_tenants(prefix: str, count: int) -> list[Tenant]:
    """`count` organizations `<prefix>-<n>`, each with one ADMIN (a Bearer token) who belongs
    to it alone, one project and TASKS_PER_ORGANIZATION tasks named after it; onboarded from
    the pool of spare schemas, as in production."""
    from knox.models import AuthToken

    from shared_apps.organizations.schema_pool.pool import spare_create
    from shared_apps.organizations.services import organization_create
    from tests.factories import make_project, make_task, make_user

    # Onboarding claims these spare schemas (the production path, and several times faster
    # here than migrating each new schema).
    for _ in range(count):
        spare_create()
    tenants = []
    for number in range(1, count + 1):
        slug = f"{prefix}-{number}"
        user = make_user(email=f"{slug}@faults.example.com")
        organization = organization_create(name=f"Faults {slug}", slug=slug, admin=user)
        project = make_project(organization, created_by=user, name=MARKER.format(slug=slug))
        for task in range(TASKS_PER_ORGANIZATION):
            make_task(
                organization,
                project=project,
                created_by=user,
                title=f"{MARKER.format(slug=slug)} task {task}",
            )
        _, token = AuthToken.objects.create(user=user)
        tenants.append(
            Tenant(
                slug=slug,
                host=organization.domain,
                schema_name=organization.schema_name,
                token=token,
                user_id=user.pk,
                project_id=project.pk,
            )
        )
    return tenants


def remove_tenants(prefix: str) -> None:
    """Drop the schemas and delete the rows of every organization `<prefix>-*` and of their
    users (whatever a failed test left)."""
    from django.db import connection

    from shared_apps.organizations.models import Organization
    from tests.factories import users_delete

    connection.set_schema_to_public()
    organizations = list(Organization.objects.filter(slug__startswith=f"{prefix}-"))
    for organization in organizations:
        organization.delete(force_drop=True)  # drops the schema, then the row and its domain
    emails = f"{prefix}-%@faults.example.com"
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM public.knox_authtoken WHERE user_id IN "
            "(SELECT id FROM public.accounts_user WHERE email LIKE %s)",
            [emails],
        )
    users_delete("email LIKE %s", [emails])


def main(argv: list[str]) -> int:
    import django

    django.setup()
    from django.core.management import call_command

    prefix, count = argv[1], int(argv[2])
    if "--migrate" in argv:
        # The public organization and its domain come with the migrations.
        call_command("migrate_schemas", interactive=False, verbosity=0)
    tenants = make_tenants(prefix, count)
    print(json.dumps([asdict(tenant) for tenant in tenants]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
