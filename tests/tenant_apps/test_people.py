"""tenant_apps/people.py: organizations' tables keep users' ids without foreign-key
constraints, so the users table carries no trigger per organization, and PostgreSQL refuses
to delete a user instead."""

import pytest
from django.db import IntegrityError, connection, transaction
from django_tenants.utils import tenant_context

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Organization
from shared_apps.organizations.services import organization_create
from tenant_apps.tasks.models import Task
from tests.factories import make_project, make_task, make_user

pytestmark = pytest.mark.django_db

USERS = "public.accounts_user"


def _fetch(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _triggers_on_users() -> int:
    return _fetch("SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass", [USERS])[0][0]


def test_no_table_of_an_organization_has_a_foreign_key_to_users(acme):
    rows = _fetch(
        "SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint c"
        " JOIN pg_class t ON t.oid = c.conrelid"
        " WHERE c.contype = 'f' AND c.confrelid = %s::regclass"
        " AND t.relnamespace = to_regnamespace(%s)",
        [USERS, acme.schema_name],
    )

    assert rows == []


def test_the_user_columns_keep_their_indexes(acme):
    # Filters and joins by creator and assignee still find their rows by index.
    indexed = {
        (table, column)
        for table, column in _fetch(
            "SELECT t.relname, a.attname FROM pg_index i"
            " JOIN pg_class t ON t.oid = i.indrelid"
            " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]"
            " WHERE t.relnamespace = to_regnamespace(%s)",
            [acme.schema_name],
        )
    }

    assert ("tasks_task", "created_by_id") in indexed
    assert ("tasks_task_assignees", "user_id") in indexed
    assert ("projects_project", "created_by_id") in indexed
    assert ("activity_activity", "actor_id") in indexed  # activity_actor starts with it


def test_a_new_organization_adds_no_trigger_to_the_users_table():
    # Migrated here, the slow way (the tests' pool is empty): every tenant migration runs.
    admin = make_user(email="founder@people.example.com")
    before = _triggers_on_users()

    organization_create(name="People", slug="people", admin=admin)

    assert Organization.objects.filter(slug="people").exists()
    assert _triggers_on_users() == before


def test_a_user_cannot_be_deleted(acme, acme_member):
    with pytest.raises(IntegrityError, match="deactivate it, never delete it"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM accounts_user WHERE id = %s", [acme_member.pk])
    loner = make_user(email="loner@people.example.com")  # nothing PROTECTs it in the ORM
    with pytest.raises(IntegrityError, match="deactivate it, never delete it"):
        with transaction.atomic(), tenant_context(acme):  # the ORM's collector needs a schema
            User.objects.filter(pk=loner.pk).delete()

    assert User.objects.filter(pk__in=[acme_member.pk, loner.pk]).count() == 2


def test_a_transaction_that_allows_it_may_delete_a_user_without_traces(acme):
    user = make_user(email="leaving@people.example.com")

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL saas.allow_user_delete = 'on'")
        with tenant_context(acme):
            User.objects.filter(pk=user.pk).delete()

    assert not User.objects.filter(pk=user.pk).exists()


def test_the_orm_still_joins_tasks_to_their_people(acme, acme_admin, acme_member):
    project = make_project(acme, created_by=acme_admin)
    task = make_task(acme, project=project, created_by=acme_admin, assignee_ids=[acme_member.pk])

    with tenant_context(acme):
        loaded = Task.objects.select_related("created_by").get(pk=task.pk)
        assignees = list(loaded.assignees.values_list("email", flat=True))

    assert loaded.created_by.email == acme_admin.email
    assert assignees == [acme_member.email]


def test_building_spares_takes_no_lock_that_stops_requests_on_the_users_table():
    # Creating a foreign key to the users table locks it against writes, dropping one locks
    # it against reads too (every token check): the history does neither any more. The
    # first spare of a migration state is migrated, the next one replays the recording.
    from shared_apps.organizations.schema_pool.pool import pool_refill

    assert len(pool_refill(size=2).created) == 2

    modes = {
        mode
        for (mode,) in _fetch(
            "SELECT mode FROM pg_locks WHERE pid = pg_backend_pid() AND relation = %s::regclass",
            [USERS],
        )
    }
    assert modes <= {"AccessShareLock", "RowShareLock"}, modes
