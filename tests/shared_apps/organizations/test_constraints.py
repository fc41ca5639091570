"""PostgreSQL itself rejects bad rows, even when they bypass the services (raw SQL)."""

import pytest
from django.db import IntegrityError, connection, transaction

from shared_apps.organizations.models import Role
from tests.factories import make_member, make_project, make_task, make_user

pytestmark = pytest.mark.django_db


def _execute(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _insert_membership(user_id: int, organization_id: int, role: str) -> None:
    _execute(
        "INSERT INTO public.organizations_membership (user_id, organization_id, role)"
        " VALUES (%s, %s, %s)",
        [user_id, organization_id, role],
    )


@pytest.fixture
def acme_task(acme):
    """A task in acme's schema."""
    author = make_member(acme, Role.ADMIN)
    project = make_project(acme, created_by=author)
    return make_task(acme, project=project, created_by=author)


def test_a_user_cannot_be_a_member_of_the_same_organization_twice(acme):
    user = make_member(acme, Role.MEMBER)

    with pytest.raises(IntegrityError, match="organizations_membership_unique_user_org"):
        with transaction.atomic():
            _insert_membership(user.pk, acme.pk, Role.ADMIN)


def test_a_user_can_be_a_member_of_two_organizations(acme, globex):
    user = make_member(acme, Role.MEMBER)

    _insert_membership(user.pk, globex.pk, Role.MEMBER)

    assert user.memberships.count() == 2


def test_a_membership_with_an_unknown_role_is_rejected(acme):
    user = make_user()

    with pytest.raises(IntegrityError, match="organizations_membership_role_valid"):
        with transaction.atomic():
            _insert_membership(user.pk, acme.pk, "OWNER")
    assert not user.memberships.exists()


def test_a_task_status_outside_the_choices_is_rejected(acme_task):
    with pytest.raises(IntegrityError, match="tasks_task_status_valid"):
        with transaction.atomic():
            _execute(
                "UPDATE org_acme.tasks_task SET status = 'ARCHIVED' WHERE id = %s", [acme_task.pk]
            )


def test_a_task_priority_outside_the_choices_is_rejected(acme_task):
    with pytest.raises(IntegrityError, match="tasks_task_priority_valid"):
        with transaction.atomic():
            _execute(
                "UPDATE org_acme.tasks_task SET priority = 'URGENT' WHERE id = %s", [acme_task.pk]
            )


def test_valid_status_and_priority_are_accepted_and_rank_follows_priority(acme_task):
    _execute(
        "UPDATE org_acme.tasks_task SET status = 'DONE', priority = 'HIGH' WHERE id = %s",
        [acme_task.pk],
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status, priority, priority_rank FROM org_acme.tasks_task WHERE id = %s",
            [acme_task.pk],
        )
        assert cursor.fetchone() == ("DONE", "HIGH", 3)


def test_project_names_are_unique_within_an_organization_but_not_across(acme, globex):
    author = make_user()
    insert = (
        "INSERT INTO {schema}.projects_project"
        " (name, description, created_by_id, created_at, updated_at)"
        " VALUES ('Website relaunch 2', '', %s, now(), now())"
    )
    _execute(insert.format(schema="org_acme"), [author.pk])

    with pytest.raises(IntegrityError, match="projects_project_live_name_unique"):
        with transaction.atomic():
            _execute(insert.format(schema="org_acme"), [author.pk])

    _execute(insert.format(schema="org_globex"), [author.pk])
    with connection.cursor() as cursor:
        for schema in ("org_acme", "org_globex"):
            cursor.execute(
                f"SELECT count(*) FROM {schema}.projects_project WHERE name = 'Website relaunch 2'"
            )
            assert cursor.fetchone() == (1,), schema


def test_two_users_cannot_share_an_email_that_differs_only_in_case(db):
    make_user(email="casey@test.example.com")
    insert = (
        "INSERT INTO public.accounts_user"
        " (password, is_superuser, is_staff, is_active, date_joined, email, full_name)"
        " VALUES ('!', false, false, true, now(), %s, '')"
    )

    with pytest.raises(IntegrityError, match="accounts_user_email_ci_unique"):
        with transaction.atomic():
            _execute(insert, ["Casey@Test.Example.COM"])


@pytest.mark.parametrize(
    ("slug", "schema_name", "constraint"),
    [
        ("Bad-Slug", "org_bad_slug", "organizations_org_slug_format"),
        ("a;drop", "org_a_drop", "organizations_org_slug_format"),
        ("-acme2", "org_acme2", "organizations_org_slug_format"),
        ("ab", "org_abc", "organizations_org_slug_format"),
        ("fine-slug", "information_schema", "organizations_org_schema_name_format"),
        ("fine-slug", "org_Fine", "organizations_org_schema_name_format"),
        ("fine-slug", "org_fine-slug", "organizations_org_schema_name_format"),
        ("fine-slug", "pg_fine", "organizations_org_schema_name_format"),
    ],
)
def test_an_organization_with_a_malformed_slug_or_schema_name_is_rejected(
    db, slug, schema_name, constraint
):
    with pytest.raises(IntegrityError, match=constraint):
        with transaction.atomic():
            _execute(
                "INSERT INTO public.organizations_organization"
                " (schema_name, name, slug, is_active, created_at)"
                " VALUES (%s, 'Raw insert', %s, true, now())",
                [schema_name, slug],
            )
