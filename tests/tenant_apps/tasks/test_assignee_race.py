"""The assignee/removal race, with real commits on separate connections.

A task write checks its assignees are members and takes FOR KEY SHARE locks on their
membership rows until it commits; membership_delete re-locks the membership FOR UPDATE, so a
removal waits for such a write and then unassigns what it committed. FOR KEY SHARE does not
conflict with itself, so task writes assigning the same user never wait for each other.

No `db` fixture: a rolled-back test transaction could not race, and a transactional test
would flush the session's organizations. Everything committed here is removed in `finally`.
"""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Membership, Organization, Role
from shared_apps.organizations.services import membership_delete
from tenant_apps.projects.models import Project
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.services import _validate_assignees, task_create
from tests.concurrency import (
    BLOCKED_FOR,
    TIMEOUT,
    Worker,
    committed_member,
)
from tests.concurrency import finish as _finish
from tests.factories import make_member, make_project


@pytest.fixture
def committed(django_db_blocker):
    """Real commits: a user U who is a MEMBER of acme and a project of acme; yields a record
    of what the test creates, and deletes all of it afterwards."""
    with committed_member(django_db_blocker, role=Role.MEMBER, label="race") as user:
        acme = Organization.objects.get(slug="acme")
        state = {
            "acme": acme,
            "user": user,
            "membership": Membership.objects.get(user=user, organization=acme),
            "project": make_project(acme, created_by=user),
            "task_ids": [],
        }
        try:
            yield state
        finally:
            connection.set_schema_to_public()
            with tenant_context(acme):
                Task.all_objects.filter(pk__in=state["task_ids"]).delete()
    with django_db_blocker.unblock():  # everything went
        assert not User.objects.filter(pk=user.pk).exists()
        assert not Membership.objects.filter(user_id=user.pk).exists()
        with tenant_context(acme):
            assert not Project.all_objects.filter(created_by_id=user.pk).exists()
            assert not Task.all_objects.filter(created_by_id=user.pk).exists()


def _create_task_and_hold(
    state: dict, title: str, created: threading.Event, release: threading.Event
) -> int:
    """Create a task assigning U, then keep the transaction open until `release`."""
    acme, user = state["acme"], state["user"]
    with transaction.atomic():
        with tenant_context(acme):
            task = task_create(
                organization=acme,
                project=state["project"],
                title=title,
                created_by=user,
                assignee_ids=[user.pk],
            )
            state["task_ids"].append(task.pk)
        created.set()
        if not release.wait(timeout=TIMEOUT):
            raise TimeoutError("never released")
    return task.pk


def _assignees(acme: Organization, task_id: int) -> set[int]:
    with tenant_context(acme):
        return set(Task.objects.get(pk=task_id).assignees.values_list("id", flat=True))


def test_removing_a_member_waits_for_an_open_task_write_assigning_them(committed):
    acme, user = committed["acme"], committed["user"]
    created, release = threading.Event(), threading.Event()
    writer = Worker(lambda: _create_task_and_hold(committed, "Race task", created, release))

    def remove():
        membership_delete(membership=Membership.objects.get(pk=committed["membership"].pk))

    remover = Worker(remove)
    try:
        writer.start()
        assert created.wait(timeout=TIMEOUT), writer.error
        remover.start()

        # The writer's FOR KEY SHARE lock on U's membership row holds the removal back.
        assert not remover.done.wait(timeout=BLOCKED_FOR), remover.error
        assert remover.is_alive()
    finally:
        _finish(writer, remover, release=release)

    assert writer.error is None, writer.error
    assert remover.error is None, remover.error
    task_id = writer.result
    assert not Membership.objects.filter(user=user, organization=acme).exists()
    # The removal ran after the write committed, so it also ended that assignment.
    assert user.pk not in _assignees(acme, task_id)
    with tenant_context(acme):
        assert Task.objects.filter(pk=task_id).exists()


def test_a_task_write_waiting_on_a_removal_fails_as_not_a_member(committed):
    # The other order: the removal holds U's membership row; the write's FOR KEY SHARE waits,
    # then finds the row gone and refuses the assignee instead of assigning a non-member.
    acme, user = committed["acme"], committed["user"]
    removed, release = threading.Event(), threading.Event()

    def remove_and_hold():
        with transaction.atomic():
            membership_delete(membership=Membership.objects.get(pk=committed["membership"].pk))
            removed.set()
            if not release.wait(timeout=TIMEOUT):
                raise TimeoutError("never released")

    def write():
        with tenant_context(acme):
            task = task_create(
                organization=acme,
                project=committed["project"],
                title="Too late",
                created_by=user,
                assignee_ids=[user.pk],
            )
        committed["task_ids"].append(task.pk)
        return task.pk

    remover, writer = Worker(remove_and_hold), Worker(write)
    try:
        remover.start()
        assert removed.wait(timeout=TIMEOUT), remover.error
        writer.start()

        assert not writer.done.wait(timeout=BLOCKED_FOR), (writer.error, writer.result)
    finally:
        _finish(remover, writer, release=release)

    assert remover.error is None, remover.error
    assert isinstance(writer.error, ValidationError), writer.error
    assert set(writer.error.message_dict) == {"assignee_ids"}
    assert not Membership.objects.filter(user=user, organization=acme).exists()
    with tenant_context(acme):
        assert not Task.objects.filter(project_id=committed["project"].pk).exists()
        assert not Task.assignees.through.objects.filter(user_id=user.pk).exists()


def _lock_assignee_and_hold(state: dict, locked: threading.Event, release: threading.Event):
    """Take what a task write holds on its assignee until it commits (FOR KEY SHARE on U's
    membership), then keep the transaction open until `release`."""
    with transaction.atomic(), tenant_context(state["acme"]):
        _validate_assignees(organization=state["acme"], assignee_ids=[state["user"].pk])
        locked.set()
        if not release.wait(timeout=TIMEOUT):
            raise TimeoutError("never released")


def test_concurrent_task_writes_assigning_the_same_user_do_not_block_each_other(committed):
    # Task writes do queue at their very end, for the moment between bumping the
    # organization's change counter (their last statement) and their commit; the assignee
    # locks they hold for their whole transaction never make another write wait.
    acme, user = committed["acme"], committed["user"]
    locked, release = threading.Event(), threading.Event()
    first = Worker(lambda: _lock_assignee_and_hold(committed, locked, release))
    second_created, second_release = threading.Event(), threading.Event()
    second_release.set()  # the second commits as soon as it has created its task
    second = Worker(
        lambda: _create_task_and_hold(committed, "Second", second_created, second_release)
    )
    try:
        first.start()
        assert locked.wait(timeout=TIMEOUT), first.error

        second.start()

        # FOR KEY SHARE does not conflict with FOR KEY SHARE: done while the first is open.
        assert second.done.wait(timeout=TIMEOUT / 3), "the second write waited for the first"
        assert first.is_alive() and not release.is_set()
        assert second.error is None, second.error
        # Committed, and visible from here, while the first transaction is still open.
        assert _assignees(acme, second.result) == {user.pk}
    finally:
        _finish(first, second, release=release)

    assert first.error is None, first.error
    assert Membership.objects.filter(user=user, organization=acme, role=Role.MEMBER).exists()


@pytest.mark.django_db
def test_a_task_write_key_share_locks_its_assignees_memberships(acme, acme_manager):
    # The lock the tests above rely on (a `db` test also makes pytest-django create the test
    # database when this module runs on its own).
    assignee = make_member(acme, Role.MEMBER)
    project = make_project(acme, created_by=acme_manager)

    with tenant_context(acme), CaptureQueriesContext(connection) as queries:
        task_create(
            organization=acme,
            project=project,
            title="Locked",
            created_by=acme_manager,
            assignee_ids=[assignee.pk, assignee.pk],
        )

    locking = [q["sql"] for q in queries.captured_queries if "FOR KEY SHARE" in q["sql"]]
    # One for the assignees' memberships, one for the project (see test_project_race.py).
    assert len([sql for sql in locking if "organizations_membership" in sql]) == 1
    assert not [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
