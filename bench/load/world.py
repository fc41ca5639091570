"""The organizations a load run talks to: seeded with seed_tasks, plus the run's own members
with fresh tokens; and their removal (the test's, in a database shared with other tests)."""

from dataclasses import asdict, dataclass

from django.core.management import call_command
from django.db import connection
from django_tenants.utils import tenant_context
from knox.models import AuthToken

from bench.databases import users_delete
from shared_apps.accounts.models import User
from shared_apps.accounts.services import user_create
from shared_apps.organizations.models import Membership, Organization, Role
from shared_apps.organizations.schema_pool.pool import spare_create
from shared_apps.organizations.services import membership_add
from tenant_apps.projects.models import Project
from tenant_apps.tasks.seeding import organization_slugs

# Members the load logs in as: the local part starts with the organization's slug, like the
# seeded members' (`<slug>-0001@seed.example.com`), so every user in an answer names the
# organization it belongs to (bench/load/checks.py).
LOAD_EMAIL = "{slug}-load-{number:02d}@load.example.com"
SEEDED_MEMBERS = 20


@dataclass
class LoadOrganization:
    """What the locust users of one organization need: its host, a token per load member, and
    the ids its requests name."""

    slug: str
    host: str
    tokens: list[str]
    project_ids: list[int]
    member_ids: list[int]


def world_build(
    *, prefix: str, organizations: int, tasks_per_org: int, members: int
) -> list[LoadOrganization]:
    """`organizations` organizations `<prefix>-0001`... seeded by seed_tasks with
    `tasks_per_org` tasks each (only when one is missing: a rerun reuses them), each with
    `members` load members (the first ADMIN, the others MANAGER: every write the run sends is
    theirs to make) holding one new token each (earlier tokens of theirs are deleted)."""
    connection.set_schema_to_public()
    slugs = organization_slugs(prefix, organizations)
    missing = len(slugs) - Organization.objects.filter(slug__in=slugs).count()
    if missing:
        # Onboarding claims these ready schemas, as in production (replayed migrations:
        # several times faster than migrating each new schema).
        for _ in range(missing):
            spare_create()
        call_command(
            "seed_tasks",
            "--orgs",
            str(organizations),
            "--tasks-per-org",
            str(tasks_per_org),
            "--prefix",
            prefix,
            "--users",
            str(SEEDED_MEMBERS),
            "--projects",
            "10",
            "--no-progress",
            stdout=_Discard(),
        )
    world = []
    for slug in slugs:
        organization = Organization.objects.get(slug=slug)
        tokens = []
        for number in range(1, members + 1):
            email = LOAD_EMAIL.format(slug=slug, number=number)
            user = _user(email)
            if not Membership.objects.filter(organization=organization, user=user).exists():
                role = Role.ADMIN if number == 1 else Role.MANAGER
                membership_add(organization=organization, user=user, role=role)
            AuthToken.objects.filter(user=user).delete()
            tokens.append(AuthToken.objects.create(user=user)[1])
        with tenant_context(organization):
            project_ids = sorted(Project.objects.values_list("id", flat=True))
        member_ids = sorted(
            Membership.objects.filter(organization=organization).values_list("user_id", flat=True)
        )
        connection.set_schema_to_public()
        world.append(
            LoadOrganization(
                slug=slug,
                host=organization.domain,
                tokens=tokens,
                project_ids=project_ids,
                member_ids=member_ids,
            )
        )
    return world


def world_as_json(world: list[LoadOrganization]) -> list[dict]:
    return [asdict(organization) for organization in world]


def world_remove(prefix: str) -> None:
    """Drop the schemas and delete the rows of every organization `<prefix>-*`, and their
    seeded and load users with their tokens."""
    connection.set_schema_to_public()
    for organization in Organization.objects.filter(slug__startswith=f"{prefix}-"):
        organization.delete(force_drop=True)  # the schema, then the row and its domain
    patterns = [f"{prefix}-%@seed.example.com", f"{prefix}-%@load.example.com"]
    for pattern in patterns:
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM public.knox_authtoken WHERE user_id IN "
                "(SELECT id FROM public.accounts_user WHERE email LIKE %s)",
                [pattern],
            )
        users_delete("email LIKE %s", [pattern])


def _user(email: str) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = user_create(email=email, password=None, full_name=email, email_verified=True)
    return user


class _Discard:
    """seed_tasks' summary line is not the run's output."""

    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass
