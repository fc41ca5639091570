"""The dashboard's running counts under concurrent writes, with real commits on separate
connections: a project trashed while a member assigned to its tasks is removed (both lock
the tasks in id order: no deadlock, no 500), and an assignment written while its task changes
(the count triggers wait for the task write and count its outcome once).

No `db` fixture (see test_assignee_race.py); everything committed here is removed at the end.
"""

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from shared_apps.organizations.models import Membership, Organization, Role
from tenant_apps.projects.models import Project
from tenant_apps.tasks import receivers
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.services import task_update
from tests.concurrency import BLOCKED_FOR, TIMEOUT, Worker, committed_member, finish
from tests.factories import client_for, make_project, make_task
from tests.tenant_apps.tasks.test_dashboard_counts import counted, kept

TASKS_PER_PROJECT = 60


@pytest.fixture
def people(django_db_blocker):
    """Committed for real: an ADMIN of acme and the MEMBERs they remove (a new one per round);
    what they made is deleted afterwards."""
    with committed_member(django_db_blocker, role=Role.ADMIN, label="counts-race") as admin:
        with django_db_blocker.unblock():
            yield {"acme": Organization.objects.get(slug="acme"), "admin": admin}


def _assigned_project(acme, admin, member, name: str) -> Project:
    """A project of TASKS_PER_PROJECT tasks, all assigned to `member` (one INSERT each for
    the tasks and their assignments: the count triggers take statements of any size)."""
    project = make_project(acme, created_by=admin, name=name)
    with tenant_context(acme):
        tasks = Task.objects.bulk_create(
            Task(
                project=project,
                title=f"{name} {i}",
                status=("NEW", "IN_PROGRESS", "DONE")[i % 3],
                due_date=timezone.localdate(),
                created_by=admin,
            )
            for i in range(TASKS_PER_PROJECT)
        )
        through = Task.assignees.through
        through.objects.bulk_create(through(task_id=t.pk, user_id=member.pk) for t in tasks)
    return project


def test_trashing_a_project_while_removing_its_assignee_neither_deadlocks_nor_fails(
    people, django_db_blocker
):
    """Both lock the project's tasks; a third transaction holding the middle one makes them
    meet there with half the tasks each, the worst moment: locking in different orders (the
    trash newest first, the removal's count trigger by id) deadlocked here."""
    acme, admin = people["acme"], people["admin"]
    with committed_member(django_db_blocker, role=Role.MEMBER, label="removed") as member:
        with django_db_blocker.unblock():
            trashed = _assigned_project(acme, admin, member, "Race trash")
            # Their tasks elsewhere too: the removal locks more tasks than the trash.
            _assigned_project(acme, admin, member, "Race kept")
            with tenant_context(acme):
                ids = sorted(Task.objects.filter(project=trashed).values_list("pk", flat=True))
            middle = ids[len(ids) // 2]
            membership = Membership.objects.get(organization=acme, user=member)
            trash_client, members_client = client_for(admin, acme), client_for(admin, acme)

            def hold_middle():
                Task.objects.select_for_update(no_key=True).get(pk=middle)

            done, release = threading.Event(), threading.Event()
            holder = Worker(lambda: _hold(acme, hold_middle, done, release))
            trash = Worker(lambda: trash_client.delete(f"/api/projects/{trashed.pk}/"))
            remove = Worker(lambda: members_client.delete(f"/api/members/{membership.pk}/"))
            try:
                holder.start()
                assert done.wait(timeout=TIMEOUT), holder.error
                for request in (trash, remove):
                    request.start()
                    # Waiting for the middle task (or for the other, which waits for it).
                    assert not request.done.wait(timeout=BLOCKED_FOR), (
                        request.error,
                        request.result,
                    )
            finally:
                finish(holder, trash, remove, release=release)

            assert [w.error for w in (holder, trash, remove)] == [None, None, None]
            assert [trash.result.status_code, remove.result.status_code] == [204, 204], [
                trash.result.content,
                remove.result.content,
            ]
            figures = kept(acme)
            assert figures == counted(acme)
            assert not any(user == member.pk for user, _ in figures["assignee"])
            assert not any(project == trashed.pk for project, *_ in figures["count"])


def test_a_task_edit_assigning_a_member_being_removed_is_a_400_not_a_deadlock(
    people, django_db_blocker, monkeypatch
):
    """The removal holds the membership, then locks the member's tasks; the edit (a status
    change with the assignees) checks the memberships before it locks its task, so it waits
    for the removal holding nothing the removal needs (locking the task first deadlocked)."""
    acme, admin = people["acme"], people["admin"]
    with committed_member(django_db_blocker, role=Role.MEMBER, label="leaving") as member:
        with django_db_blocker.unblock():
            project = make_project(acme, created_by=admin, name="Race leaving")
            task = make_task(acme, project=project, created_by=admin, assignee_ids=[member.pk])
            membership = Membership.objects.get(organization=acme, user=member)
            has_membership, go = threading.Event(), threading.Event()
            unassign = receivers.task_unassign_user

            def unassign_later(**kwargs):
                has_membership.set()  # the removal holds the membership row now
                if not go.wait(timeout=TIMEOUT):
                    raise TimeoutError("never released")
                return unassign(**kwargs)

            monkeypatch.setattr(receivers, "task_unassign_user", unassign_later)
            remover, editor = client_for(admin, acme), client_for(admin, acme)
            remove = Worker(lambda: remover.delete(f"/api/members/{membership.pk}/"))
            edit = Worker(
                lambda: editor.patch(
                    f"/api/tasks/{task.pk}/",
                    {"status": "DONE", "assignee_ids": [member.pk]},
                    format="json",
                )
            )
            try:
                remove.start()
                assert has_membership.wait(timeout=TIMEOUT), remove.error
                edit.start()
                assert not edit.done.wait(timeout=BLOCKED_FOR), (edit.error, edit.result)
            finally:
                finish(remove, edit, release=go)

            assert (remove.error, edit.error) == (None, None)
            assert remove.result.status_code == 204, remove.result.content
            assert edit.result.status_code == 400, edit.result.content
            assert "not members of this organization" in edit.result.json()["assignee_ids"][0]
            assert kept(acme) == counted(acme)


def _hold(acme, action, done: threading.Event, release: threading.Event) -> None:
    """Run `action()` in acme, then keep its transaction open until `release`."""
    with transaction.atomic(), tenant_context(acme):
        action()
        done.set()
        if not release.wait(timeout=TIMEOUT):
            raise TimeoutError("never released")


def _assign_outside_the_services(acme, task: Task, user_id: int) -> None:
    """An assignment as a script or a seed writes it: no service, no lock of its own."""
    with tenant_context(acme), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tasks_task_assignees (task_id, user_id) VALUES (%s, %s)",
            [task.pk, user_id],
        )


def _run(acme, action) -> None:
    with transaction.atomic(), tenant_context(acme):
        action()


@pytest.mark.parametrize("first", ["status change", "assignment"])
def test_an_assignment_and_a_status_change_of_its_task_at_once_count_once(
    people, django_db_blocker, first
):
    acme, admin = people["acme"], people["admin"]
    with committed_member(django_db_blocker, role=Role.MEMBER, label="assignee") as member:
        with django_db_blocker.unblock():
            project = make_project(acme, created_by=admin, name=f"Race status {first}")
            task = make_task(acme, project=project, created_by=admin, title="Race status")

            def finish_task():
                task_update(organization=acme, task=task, data={"status": "DONE"}, actor=admin)

            def assign():
                _assign_outside_the_services(acme, task, member.pk)

            held, second = (
                (finish_task, assign) if first == "status change" else (assign, finish_task)
            )
            done, release = threading.Event(), threading.Event()
            holder = Worker(lambda: _hold(acme, held, done, release))
            waiter = Worker(lambda: _run(acme, second))
            try:
                holder.start()
                assert done.wait(timeout=TIMEOUT), holder.error
                waiter.start()
                # The second waits for the first's lock on the task, then sees its outcome.
                assert not waiter.done.wait(timeout=BLOCKED_FOR), (waiter.error, waiter.result)
            finally:
                finish(holder, waiter, release=release)
            assert (holder.error, waiter.error) == (None, None)

            figures = kept(acme)
            assert figures == counted(acme)
            # Assigned, but DONE: no open task of theirs.
            assert not any(user == member.pk for user, _ in figures["assignee"])
            with tenant_context(acme):
                Task.assignees.through.objects.filter(task_id=task.pk).delete()
