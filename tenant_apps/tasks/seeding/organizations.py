"""Seed organizations: the organization, its members and projects through the product's own
services, then its tasks by bulk load (load.py)."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as clock_time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared_apps.accounts.models import User
from shared_apps.accounts.services import user_create
from shared_apps.organizations.models import Membership, Organization, Role
from shared_apps.organizations.services import membership_add, organization_create
from shared_apps.organizations.slugs import validate_slug
from tenant_apps.projects.models import Project
from tenant_apps.projects.services import project_create

from .load import LoadError, LoadReport, Progress, no_progress, tasks_load, tasks_vacuum

# Seeded users are recognisable, and unique per organization.
EMAIL = "{slug}-{number:04d}@seed.example.com"
FIRST_NAMES = (
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kira",
    "Liam", "Maya", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sami", "Tara",
)  # fmt: skip
LAST_NAMES = (
    "Adams", "Berg", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito", "Jensen",
    "Kowalski", "Lopez", "Moreau", "Nakamura", "Olsen", "Petrov", "Rossi", "Silva", "Tanaka",
)  # fmt: skip
# Every MANAGER_EVERY-th seeded member is a MANAGER, the rest MEMBERs.
MANAGER_EVERY = 10
PROJECT_AREAS = (
    "Website", "Mobile app", "Billing", "Onboarding", "Search", "Data platform", "Security",
    "Marketing site", "Support desk", "Partner portal", "Analytics", "Infrastructure",
    "Payments", "Design system", "Compliance", "Hiring", "Localization", "Reporting",
    "Integrations", "Developer docs",
)  # fmt: skip
PROJECT_KINDS = (
    "relaunch", "roadmap", "maintenance", "migration", "redesign", "launch", "audit",
    "cleanup", "experiments", "backlog",
)  # fmt: skip


def seeded_email(slug: str, number: int) -> str:
    return EMAIL.format(slug=slug, number=number)


def project_name(number: int) -> str:
    """The `number`-th seeded project's name (from 0), unique for any number."""
    area = PROJECT_AREAS[number % len(PROJECT_AREAS)]
    kinds = len(PROJECT_AREAS) * len(PROJECT_KINDS)
    name = f"{area} {PROJECT_KINDS[(number // len(PROJECT_AREAS)) % len(PROJECT_KINDS)]}"
    return name if number < kinds else f"{name} {number // kinds + 1}"


def default_until() -> datetime:
    """Tasks are created up to the start of today: the same seed gives the same rows all day."""
    return timezone.make_aware(datetime.combine(timezone.localdate(), clock_time.min))


@dataclass
class SeedResult:
    """What seeding one organization did."""

    organization: Organization
    created: bool
    users_created: int
    members: int
    projects: int
    load: LoadReport
    vacuumed: bool
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


def _users(slug: str, count: int) -> tuple[list[User], int]:
    """The organization's `count` seeded users, created where missing (no password: they
    cannot log in until someone sets one)."""
    emails = [seeded_email(slug, number) for number in range(1, count + 1)]
    found = {user.email: user for user in User.objects.filter(email__in=emails)}
    users, created = [], 0
    for number, email in enumerate(emails, start=1):
        user = found.get(email)
        if user is None:
            first = FIRST_NAMES[(number - 1) % len(FIRST_NAMES)]
            last = LAST_NAMES[((number - 1) // len(FIRST_NAMES)) % len(LAST_NAMES)]
            user = user_create(
                email=email, password=None, full_name=f"{first} {last}", email_verified=True
            )
            created += 1
        users.append(user)
    return users, created


@transaction.atomic
def _organization_and_members(
    *, slug: str, name: str | None, users: int, admin: User | None
) -> tuple[Organization, bool, int, User]:
    """The organization (created through onboarding if missing, its first ADMIN `admin` or
    the first seeded user) with every seeded user a member (membership service)."""
    seeded, users_created = _users(slug, users)
    organization = Organization.objects.filter(slug=slug).first()
    created = organization is None
    if created:
        first_admin = admin or (seeded[0] if seeded else None)
        if first_admin is None:
            raise ValidationError("A new organization needs an admin: seed at least one user.")
        organization = organization_create(
            name=name or slug.replace("-", " ").title(), slug=slug, admin=first_admin
        )
    members = set(
        Membership.objects.filter(organization=organization).values_list("user_id", flat=True)
    )
    if admin is not None and admin.pk not in members:
        membership_add(organization=organization, user=admin, role=Role.ADMIN)
        members.add(admin.pk)
    for number, user in enumerate(seeded, start=1):
        if user.pk not in members:
            role = Role.MANAGER if number % MANAGER_EVERY == 0 else Role.MEMBER
            membership_add(organization=organization, user=user, role=role)
            members.add(user.pk)
    owner = admin or (
        Membership.objects.filter(organization=organization, role=Role.ADMIN)
        .select_related("user")
        .order_by("id")
        .first()
        .user
    )
    return organization, created, users_created, owner


@transaction.atomic
def _projects(count: int, created_by: User) -> list[int]:
    """The seeded projects' ids (live ones, by name), created where missing (project service)."""
    names = [project_name(number) for number in range(count)]
    found = dict(Project.objects.filter(name__in=names).values_list("name", "id"))
    ids = []
    for name in names:
        if name not in found:
            found[name] = project_create(
                name=name, description=f"Seeded project: {name}.", created_by=created_by
            ).pk
        ids.append(found[name])
    return ids


def organization_seed(
    *,
    slug: str,
    tasks: int,
    projects: int,
    users: int,
    seed: int,
    name: str | None = None,
    admin: User | None = None,
    until: datetime | None = None,
    progress: Progress = no_progress,
) -> SeedResult:
    """Make `slug` an organization (created if missing) with `users` seeded members (and
    `admin` as an ADMIN, if given), `projects` seeded projects, and `tasks` more tasks,
    created by and assigned to its members. Same seed, same day: same rows."""
    validate_slug(slug)
    if tasks and projects < 1:
        raise ValidationError("Tasks need at least one project.")
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    organization, created, users_created, owner = _organization_and_members(
        slug=slug, name=name, users=users, admin=admin
    )
    seconds["organization and members"] = time.perf_counter() - started
    member_ids = sorted(
        Membership.objects.filter(organization=organization).values_list("user_id", flat=True)
    )
    with tenant_context(organization):
        started = time.perf_counter()
        project_ids = _projects(projects, owner)
        seconds["projects"] = time.perf_counter() - started
        started = time.perf_counter()
        report = tasks_load(
            organization=organization,
            count=tasks,
            project_ids=project_ids,
            member_ids=member_ids,
            seed=seed,
            until=until or default_until(),
            progress=progress,
        )
        seconds["load"] = time.perf_counter() - started
        started = time.perf_counter()
        vacuumed = tasks_vacuum(report)
        seconds["vacuum"] = time.perf_counter() - started
    return SeedResult(
        organization=organization,
        created=created,
        users_created=users_created,
        members=len(member_ids),
        projects=len(project_ids),
        load=report,
        vacuumed=vacuumed,
        seconds=seconds,
    )


def organization_slugs(prefix: str, count: int) -> list[str]:
    """`prefix-0001` ... (the width grows past 9,999); every one a valid slug."""
    width = max(4, len(str(count)))
    slugs = [f"{prefix}-{number:0{width}d}" for number in range(1, count + 1)]
    for slug in (slugs[0], slugs[-1]) if slugs else ():
        validate_slug(slug)
    return slugs


def organizations_seed(
    *,
    prefix: str,
    count: int,
    tasks_per_org: int,
    projects: int,
    users: int,
    seed: int,
    until: datetime | None = None,
    on_organization: Callable[[SeedResult], object] | None = None,
) -> list[SeedResult]:
    """Seed `count` organizations `prefix-0001`...: each as organization_seed, with a seed of
    its own (derived from `seed`), so no two are alike and a rerun repeats them."""
    until = until or default_until()
    results = []
    for number, slug in enumerate(organization_slugs(prefix, count), start=1):
        try:
            result = organization_seed(
                slug=slug,
                tasks=tasks_per_org,
                projects=projects,
                users=users,
                seed=seed * 1_000_003 + number,
                until=until,
            )
        except ValidationError as exc:
            # The organizations before it are seeded (each in its own transactions).
            raise LoadError(f"{slug}: {'; '.join(exc.messages)}") from exc
        except LoadError as exc:
            raise LoadError(f"{slug}: {exc}") from exc
        results.append(result)
        if on_organization is not None:
            on_organization(result)
    return results
