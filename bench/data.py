"""The benchmark's data: one large organization (`bench-scale`), built once and reused."""

import time

from django.db import connection
from django_tenants.utils import tenant_context

from shared_apps.accounts.models import User
from shared_apps.accounts.services import user_create
from shared_apps.organizations.models import Organization
from shared_apps.organizations.services import organization_create
from tenant_apps.projects.services import project_create
from tenant_apps.tasks.models import Task

SLUG = "bench-scale"
EMAIL = "bench@bench.example.com"


def ensure_data(total: int) -> Organization:
    user = User.objects.filter(email=EMAIL).first() or user_create(email=EMAIL, password=None)
    organization = Organization.objects.filter(slug=SLUG).first()
    if organization is None:
        organization = organization_create(name="Bench scale", slug=SLUG, admin=user)
    with tenant_context(organization):
        have = Task.objects.count()
        if have < total:
            project = project_create(name=f"Bench {have}", created_by=user)
            started = time.perf_counter()
            with connection.cursor() as cursor:
                # Server-side generation: a million rows in seconds, not hours of ORM saves.
                cursor.execute(
                    """
                    INSERT INTO tasks_task (project_id, title, description, status, priority,
                                            due_date, created_by_id, created_at, updated_at,
                                            deleted_with_project)
                    SELECT %s, 'Task ' || g, '',
                           (ARRAY['NEW','IN_PROGRESS','DONE'])[1 + g %% 3],
                           (ARRAY['LOW','MEDIUM','HIGH'])[1 + (g / 3) %% 3],
                           CASE WHEN g %% 5 = 0 THEN NULL
                                ELSE DATE '2026-01-01' + (g %% 730) END,
                           %s, now() - g * interval '1 second', now(), false
                    FROM generate_series(%s, %s) AS g
                    """,
                    [project.pk, user.pk, have + 1, total],
                )
                cursor.execute(
                    "INSERT INTO tasks_task_assignees (task_id, user_id) "
                    "SELECT id, %s FROM tasks_task WHERE id %% 2 = 0 "
                    "ON CONFLICT DO NOTHING",
                    [user.pk],
                )
                cursor.execute("ANALYZE tasks_task; ANALYZE tasks_task_assignees")
            print(f"inserted {total - have:,} tasks in {time.perf_counter() - started:.1f} s")
    return organization


# The name the bench modules use.
ensure_scale_org = ensure_data
