"""The benchmark's data: one large organization (`bench-scale`), built once and reused.

Built with seed_tasks' loader (tenant_apps.tasks.seeding): 50 projects, 200 members and the
bench user as its ADMIN, realistic statuses, priorities, due dates, titles and assignments
(the bench user among the assignees, like every member), loaded by COPY in about a minute.
"""

import time

from django.db import connection
from django_tenants.utils import tenant_context

from shared_apps.accounts.models import User
from shared_apps.accounts.services import user_create
from shared_apps.organizations.models import Organization
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.seeding import bulk, organization_seed
from tenant_apps.tasks.seeding.load import ASSIGNEES, TASKS

SLUG = "bench-scale"
EMAIL = "bench@bench.example.com"
PROJECTS = 50
USERS = 200
SEED = 1


def build_scale_org(
    *,
    slug: str,
    email: str,
    tasks: int,
    projects: int = PROJECTS,
    users: int = USERS,
    name: str = "Bench scale",
) -> Organization:
    """Organization `slug` with at least `tasks` tasks: reused as it is when it has them,
    otherwise seeded up to that many (created if missing, `email`'s user its ADMIN)."""
    # API requests leave the connection on their organization's schema; onboarding and the
    # users table need public.
    connection.set_schema_to_public()
    user = User.objects.filter(email=email).first() or user_create(email=email, password=None)
    organization = Organization.objects.filter(slug=slug).first()
    have = 0
    if organization is not None:
        with tenant_context(organization):
            have = Task.all_objects.count()
        if have >= tasks:
            return organization
    started = time.perf_counter()
    result = organization_seed(
        slug=slug,
        name=name,
        tasks=tasks - have,
        projects=projects,
        users=users,
        seed=SEED + have,
        admin=user,
    )
    if not result.load.maintained:
        _settle(result.organization)
    print(
        f"  {slug}: seeded {result.load.tasks:,} tasks in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return result.organization


def _settle(organization: Organization) -> None:
    """VACUUM and ANALYZE the task tables after a small load, which seed_tasks leaves to
    autovacuum: the state a production server reaches within a minute. (A server run with
    autovacuum off, as CI's is, never would, and the references at 1,000 tasks would be
    planned without statistics.) The users table too: the load added members."""
    with tenant_context(organization):
        vacuum_analyze(TASKS, ASSIGNEES)
    users_analyze()


def users_analyze() -> None:
    """ANALYZE the users table (public), as autovacuum would once members were added: a plain
    join of assignees with users is planned from its statistics."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE public.accounts_user")


def vacuum_analyze(*tables: str) -> None:
    """VACUUM (ANALYZE) `tables` of the current tenant schema, as autovacuum would soon after
    a write on a server that runs it (CI's does not); ANALYZE alone inside a transaction,
    which VACUUM refuses (the tests build organizations inside one)."""
    vacuum = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cursor:
        cursor.execute(f"{vacuum} {', '.join(bulk.qualified(table) for table in tables)}")


def ensure_data(total: int) -> Organization:
    """`bench-scale` with at least `total` tasks, the bench user (EMAIL) an ADMIN member."""
    return build_scale_org(slug=SLUG, email=EMAIL, tasks=total)


# The name the bench modules use.
ensure_scale_org = ensure_data
