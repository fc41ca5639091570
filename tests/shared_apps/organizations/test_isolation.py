"""Each organization's projects and tasks live in its own PostgreSQL schema, and only there."""

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from tenant_apps.projects.models import Project
from tenant_apps.tasks.models import Task
from tests.factories import make_project, make_task, make_user

TENANT_TABLES = ("projects_project", "tasks_task", "tasks_task_assignees")
PUBLIC_TABLES = ("accounts_user", "organizations_organization", "organizations_membership")

pytestmark = pytest.mark.django_db


def _tables_in(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema]
        )
        return {name for (name,) in cursor.fetchall()}


def _titles_in(schema: str) -> list[str]:
    # Schema-qualified on purpose: the answer must not depend on the connection's search_path.
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT title FROM "{schema}".tasks_task ORDER BY id')
        return [title for (title,) in cursor.fetchall()]


def test_a_task_created_in_one_organization_is_a_row_in_that_schema_only(acme, globex):
    author = make_user()
    project = make_project(acme, created_by=author)
    make_task(acme, project=project, created_by=author, title="Acme-only launch plan")

    assert "Acme-only launch plan" in _titles_in("org_acme")
    assert "Acme-only launch plan" not in _titles_in("org_globex")
    with tenant_context(globex):
        assert not Task.objects.filter(title="Acme-only launch plan").exists()
        assert not Project.objects.filter(name=project.name).exists()
    with tenant_context(acme):
        assert Task.objects.filter(title="Acme-only launch plan").count() == 1


def test_every_organization_schema_has_its_own_project_and_task_tables(acme, globex):
    for schema in (acme.schema_name, globex.schema_name):
        assert set(TENANT_TABLES) <= _tables_in(schema), schema


def test_project_and_task_tables_do_not_exist_in_the_public_schema(db):
    assert not set(TENANT_TABLES) & _tables_in("public")


def test_users_organizations_and_memberships_exist_only_in_the_public_schema(acme, globex):
    assert set(PUBLIC_TABLES) <= _tables_in("public")
    for schema in (acme.schema_name, globex.schema_name):
        assert not set(PUBLIC_TABLES) & _tables_in(schema), schema


def test_the_same_project_id_exists_independently_in_two_organizations(acme, globex):
    author = make_user()
    with tenant_context(acme):
        Project.objects.create(id=424242, name="Acme roadmap", created_by=author)
    with tenant_context(globex):
        Project.objects.create(id=424242, name="Globex roadmap", created_by=author)

    with tenant_context(acme):
        assert Project.objects.get(pk=424242).name == "Acme roadmap"
    with tenant_context(globex):
        assert Project.objects.get(pk=424242).name == "Globex roadmap"
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM org_acme.projects_project WHERE id = 424242")
        assert cursor.fetchall() == [("Acme roadmap",)]
        cursor.execute("SELECT name FROM org_globex.projects_project WHERE id = 424242")
        assert cursor.fetchall() == [("Globex roadmap",)]
