"""Every change of tasks, projects and members writes its entry, with who did it and what
changed, in the same transaction and the organization's own schema; nothing else writes one."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django_tenants.utils import tenant_context

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Invitation, Membership, Role
from shared_apps.organizations.services import (
    invitation_accept,
    invitation_create,
    membership_add,
    membership_change_role,
    membership_delete,
    organization_create,
)
from tenant_apps.activity.models import Activity
from tenant_apps.activity.selectors import change_version
from tenant_apps.projects.services import (
    project_create,
    project_delete,
    project_restore,
)
from tenant_apps.tasks.models import Task
from tenant_apps.tasks.services import task_delete, task_restore, task_update
from tests.factories import client_for, make_member, make_project, make_task, make_user

pytestmark = pytest.mark.django_db


def entries(organization, **filters) -> list[Activity]:
    """The organization's entries, oldest first."""
    with tenant_context(organization):
        return list(Activity.objects.filter(**filters).order_by("id"))


def newest_id(organization) -> int:
    with tenant_context(organization):
        last = Activity.objects.order_by("-id").first()
        return last.id if last else 0


def entries_after(organization, last_id: int) -> list[Activity]:
    return entries(organization, id__gt=last_id)


def version(organization) -> int:
    with tenant_context(organization):
        return change_version()


def summary(entry: Activity) -> tuple:
    return (entry.verb, entry.target_type, entry.target_id, entry.target_label, entry.actor_id)


@pytest.fixture
def project(acme, acme_manager):
    """A project of acme."""
    return make_project(acme, created_by=acme_manager, name="Entries project")


# --- One test per verb ------------------------------------------------------------------------


def test_creating_a_task_records_created_with_its_values_and_an_assigned_entry_per_assignee(
    acme, acme_manager, project
):
    people = [make_member(acme, Role.MEMBER) for _ in range(2)]
    before = newest_id(acme)

    task = make_task(
        acme,
        project=project,
        created_by=acme_manager,
        title="Ship it",
        priority="HIGH",
        due_date=datetime.date(2026, 12, 24),
        assignee_ids=[people[1].id, people[0].id],
    )

    created, *assigned = entries_after(acme, before)
    assert summary(created) == ("created", "task", task.id, "Ship it", acme_manager.id)
    assert created.project_id == project.id
    assert created.changes == {
        "project": [None, project.id],
        "title": [None, "Ship it"],
        "status": [None, "NEW"],
        "priority": [None, "HIGH"],
        "due_date": [None, "2026-12-24"],
    }
    assert [(e.verb, e.actor_id, e.target_id) for e in assigned] == [
        ("assigned", acme_manager.id, task.id)
    ] * 2
    assert [e.changes for e in assigned] == [
        {"assignee": [None, {"id": person.id, "email": person.email}]} for person in people
    ]


def test_creating_a_project_records_created(acme, acme_manager):
    before = newest_id(acme)

    with tenant_context(acme):
        project = project_create(name="Launch", description="Go", created_by=acme_manager)

    [entry] = entries_after(acme, before)
    assert summary(entry) == ("created", "project", project.id, "Launch", acme_manager.id)
    assert entry.project_id == project.id
    assert entry.changes == {"name": [None, "Launch"], "description": [None, "Go"]}


def test_updating_a_task_records_old_and_new_values_of_what_changed(
    acme, acme_manager, acme_admin, project
):
    other = make_project(acme, created_by=acme_manager, name="Other project")
    task = make_task(acme, project=project, created_by=acme_manager, title="Old title")
    before = newest_id(acme)

    response = client_for(acme_admin, acme).patch(
        f"/api/tasks/{task.id}/",
        {
            "title": "New title",
            "status": "IN_PROGRESS",
            "priority": "MEDIUM",  # unchanged: not listed
            "due_date": "2026-03-31",
            "project": other.id,
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    [entry] = entries_after(acme, before)
    assert summary(entry) == ("updated", "task", task.id, "New title", acme_admin.id)
    assert entry.project_id == other.id
    assert entry.changes == {
        "title": ["Old title", "New title"],
        "status": ["NEW", "IN_PROGRESS"],
        "due_date": [None, "2026-03-31"],
        "project": [project.id, other.id],
    }


def test_a_long_description_is_cut_in_the_record_but_not_in_the_task(acme, acme_manager, project):
    task = make_task(acme, project=project, created_by=acme_manager)
    before = newest_id(acme)

    with tenant_context(acme):
        task_update(
            organization=acme, task=task, data={"description": "x" * 5000}, actor=acme_manager
        )
        assert Task.objects.get(pk=task.pk).description == "x" * 5000

    [entry] = entries_after(acme, before)
    old, new = entry.changes["description"]
    assert old == ""
    assert len(new) == 200 and new.endswith("…")


def test_updating_a_project_records_old_and_new_name(acme, acme_admin, project):
    before = newest_id(acme)

    response = client_for(acme_admin, acme).patch(
        f"/api/projects/{project.id}/", {"name": "Renamed"}, format="json"
    )

    assert response.status_code == 200, response.content
    [entry] = entries_after(acme, before)
    assert summary(entry) == ("updated", "project", project.id, "Renamed", acme_admin.id)
    assert entry.changes == {"name": ["Entries project", "Renamed"]}


def test_changing_assignees_records_one_entry_per_user_added_or_removed(
    acme, acme_manager, project
):
    kept, dropped, added = (make_member(acme, Role.MEMBER) for _ in range(3))
    task = make_task(
        acme, project=project, created_by=acme_manager, assignee_ids=[kept.id, dropped.id]
    )
    before = newest_id(acme)

    response = client_for(acme_manager, acme).patch(
        f"/api/tasks/{task.id}/", {"assignee_ids": [kept.id, added.id]}, format="json"
    )

    assert response.status_code == 200, response.content
    recorded = entries_after(acme, before)
    assert [(e.verb, e.actor_id, e.target_id, e.changes) for e in recorded] == [
        ("assigned", acme_manager.id, task.id, {"assignee": [None, _ref(added)]}),
        ("unassigned", acme_manager.id, task.id, {"assignee": [_ref(dropped), None]}),
    ]


def _ref(user) -> dict:
    return {"id": user.id, "email": user.email}


def test_deleting_a_task_records_deleted(acme, acme_manager, project):
    task = make_task(acme, project=project, created_by=acme_manager, title="Doomed")
    before = newest_id(acme)

    response = client_for(acme_manager, acme).delete(f"/api/tasks/{task.id}/")

    assert response.status_code == 204
    [entry] = entries_after(acme, before)
    assert summary(entry) == ("deleted", "task", task.id, "Doomed", acme_manager.id)
    assert entry.project_id == project.id


def test_deleting_a_project_records_it_and_each_task_that_went_with_it(
    acme, acme_manager, acme_admin, project
):
    first = make_task(acme, project=project, created_by=acme_manager, title="First")
    second = make_task(acme, project=project, created_by=acme_manager, title="Second")
    before = newest_id(acme)

    response = client_for(acme_admin, acme).delete(f"/api/projects/{project.id}/")

    assert response.status_code == 204
    recorded = entries_after(acme, before)
    assert {summary(e) for e in recorded} == {
        ("deleted", "project", project.id, "Entries project", acme_admin.id),
        ("deleted", "task", first.id, "First", acme_admin.id),
        ("deleted", "task", second.id, "Second", acme_admin.id),
    }
    assert {e.project_id for e in recorded} == {project.id}


def test_restoring_records_restored_for_the_task_and_for_the_project_with_its_tasks(
    acme, acme_manager, acme_admin, project
):
    alone = make_task(
        acme, project=make_project(acme, created_by=acme_manager), created_by=acme_manager
    )
    going = make_task(acme, project=project, created_by=acme_manager, title="Going")
    with tenant_context(acme):
        task_delete(task=alone, actor=acme_manager)
        project_delete(project=project, actor=acme_admin)
    before = newest_id(acme)

    with tenant_context(acme):
        task_restore(task=alone, actor=acme_manager)
        project_restore(project=project, actor=acme_admin)

    assert [summary(e) for e in entries_after(acme, before)] == [
        ("restored", "task", alone.id, alone.title, acme_manager.id),
        ("restored", "project", project.id, "Entries project", acme_admin.id),
        ("restored", "task", going.id, "Going", acme_admin.id),
    ]


def test_inviting_records_member_invited_naming_the_address(acme, acme_admin):
    before = newest_id(acme)

    response = client_for(acme_admin, acme).post(
        "/api/members/", {"email": "newbie@test.example.com", "role": "MANAGER"}, format="json"
    )

    assert response.status_code == 201, response.content
    [entry] = entries_after(acme, before)
    invitation = Invitation.objects.get(organization=acme, email="newbie@test.example.com")
    assert summary(entry) == (
        "member_invited",
        "member",
        invitation.id,
        "newbie@test.example.com",
        acme_admin.id,
    )
    assert entry.changes == {
        "email": [None, "newbie@test.example.com"],
        "role": [None, "MANAGER"],
    }


def test_accepting_an_invitation_records_member_added_by_the_newcomer(acme, acme_admin):
    newcomer = make_user()
    invitation = invitation_create(
        organization=acme, email=newcomer.email, role=Role.MANAGER, invited_by=acme_admin
    )
    before = newest_id(acme)

    invitation_accept(invitation=invitation, user=newcomer)

    [entry] = entries_after(acme, before)
    assert summary(entry) == ("member_added", "member", newcomer.id, newcomer.email, newcomer.id)
    assert entry.changes == {"role": [None, "MANAGER"]}


def test_staff_adding_a_member_records_member_added_by_staff(acme):
    staff = User.objects.create_superuser("staff-entries@test.example.com")
    user = make_user()
    before = newest_id(acme)

    membership_add(organization=acme, user=user, role=Role.MEMBER, actor=staff)

    [entry] = entries_after(acme, before)
    assert summary(entry) == ("member_added", "member", user.id, user.email, staff.id)
    assert entry.changes == {"role": [None, "MEMBER"]}


def test_a_new_organization_records_its_first_admin_in_its_own_schema():
    founder = make_user()

    organization = organization_create(
        name="Entries Co", slug="entries-co", admin=founder, actor=founder
    )

    [entry] = entries(organization)
    assert summary(entry) == ("member_added", "member", founder.id, founder.email, founder.id)
    assert entry.changes == {"role": [None, "ADMIN"]}


def test_changing_a_role_records_old_and_new_role(acme, acme_admin):
    user = make_member(acme, Role.MEMBER)
    membership = Membership.objects.get(organization=acme, user=user)
    before = newest_id(acme)

    response = client_for(acme_admin, acme).patch(
        f"/api/members/{membership.id}/", {"role": "MANAGER"}, format="json"
    )

    assert response.status_code == 200, response.content
    [entry] = entries_after(acme, before)
    assert summary(entry) == ("member_role_changed", "member", user.id, user.email, acme_admin.id)
    assert entry.changes == {"role": ["MEMBER", "MANAGER"]}


def test_removing_a_member_records_member_removed_and_each_unassignment(
    acme, acme_admin, acme_manager, project
):
    user = make_member(acme, Role.MEMBER)
    live = make_task(acme, project=project, created_by=acme_manager, assignee_ids=[user.id])
    trashed = make_task(acme, project=project, created_by=acme_manager, assignee_ids=[user.id])
    with tenant_context(acme):
        task_delete(task=trashed, actor=acme_manager)
    membership = Membership.objects.get(organization=acme, user=user)
    before, counter = newest_id(acme), version(acme)

    response = client_for(acme_admin, acme).delete(f"/api/members/{membership.id}/")

    assert response.status_code == 204, response.content
    recorded = entries_after(acme, before)
    removed = [e for e in recorded if e.verb == "member_removed"]
    unassigned = [e for e in recorded if e.verb == "unassigned"]
    assert [summary(e) for e in removed] == [
        ("member_removed", "member", user.id, user.email, acme_admin.id)
    ]
    assert removed[0].changes == {"role": ["MEMBER", None]}
    assert sorted(e.target_id for e in unassigned) == sorted([live.id, trashed.id])
    assert {e.actor_id for e in unassigned} == {acme_admin.id}
    assert all(e.changes == {"assignee": [_ref(user), None]} for e in unassigned)
    # The unassignments change figures derived from tasks: the version moved on.
    assert version(acme) > counter


def test_leaving_records_member_removed_by_the_member_themselves(acme, acme_admin):
    user = make_member(acme, Role.MEMBER)
    membership = Membership.objects.get(organization=acme, user=user)
    before = newest_id(acme)

    response = client_for(user, acme).delete(f"/api/members/{membership.id}/")

    assert response.status_code == 204, response.content
    [entry] = entries_after(acme, before)
    assert summary(entry) == ("member_removed", "member", user.id, user.email, user.id)


def test_a_command_or_system_job_records_no_actor(acme, acme_manager, project):
    task = make_task(acme, project=project, created_by=acme_manager)
    before = newest_id(acme)

    with tenant_context(acme):
        task_update(organization=acme, task=task, data={"status": "DONE"}, actor=None)

    [entry] = entries_after(acme, before)
    assert entry.actor_id is None
    response = client_for(acme_manager, acme).get(f"/api/tasks/{task.id}/activity/")
    assert response.json()["results"][0]["actor"] is None


# --- What writes nothing ------------------------------------------------------------------------


def test_an_update_that_changes_nothing_writes_no_entry_and_no_row(acme, acme_manager, project):
    person = make_member(acme, Role.MEMBER)
    task = make_task(
        acme, project=project, created_by=acme_manager, title="Same", assignee_ids=[person.id]
    )
    with tenant_context(acme):
        updated_at = Task.objects.get(pk=task.pk).updated_at
    before, counter = newest_id(acme), version(acme)
    client = client_for(acme_manager, acme)

    task_response = client.patch(
        f"/api/tasks/{task.id}/",
        {"title": " Same ", "status": "NEW", "assignee_ids": [person.id]},
        format="json",
    )
    project_response = client.patch(
        f"/api/projects/{project.id}/", {"name": "Entries project"}, format="json"
    )

    assert task_response.status_code == 200 and project_response.status_code == 200
    assert entries_after(acme, before) == []
    assert version(acme) == counter
    with tenant_context(acme):
        assert Task.objects.get(pk=task.pk).updated_at == updated_at


def test_reads_write_no_entries(acme, acme_member, project, acme_manager):
    task = make_task(acme, project=project, created_by=acme_manager)
    before = newest_id(acme)
    client = client_for(acme_member, acme)

    for url in ("/api/tasks/", f"/api/tasks/{task.id}/", "/api/projects/", "/api/activity/"):
        assert client.get(url).status_code == 200

    assert entries_after(acme, before) == []


def test_a_refused_write_leaves_no_entry(acme, acme_manager, project):
    task = make_task(acme, project=project, created_by=acme_manager)
    globex_only = make_user()
    before, counter = newest_id(acme), version(acme)
    client = client_for(acme_manager, acme)

    # Validation in the service, after the field changes were applied to the object.
    response = client.patch(
        f"/api/tasks/{task.id}/",
        {"title": "Would change", "assignee_ids": [globex_only.id]},
        format="json",
    )
    taken = client.post("/api/projects/", {"name": "Entries project"}, format="json")

    assert response.status_code == 400 and taken.status_code == 400
    assert entries_after(acme, before) == []
    assert version(acme) == counter
    with tenant_context(acme):
        assert Task.objects.get(pk=task.pk).title == task.title


def test_a_write_rolled_back_after_its_entry_leaves_no_entry(acme, acme_manager, project):
    task = make_task(acme, project=project, created_by=acme_manager, title="Kept")
    before, counter = newest_id(acme), version(acme)

    with pytest.raises(RuntimeError), tenant_context(acme), transaction.atomic():
        task_update(organization=acme, task=task, data={"title": "Lost"}, actor=acme_manager)
        assert [e.verb for e in entries_after(acme, before)] == ["updated"]
        raise RuntimeError("the request failed after the service")

    assert entries_after(acme, before) == []
    assert version(acme) == counter
    with tenant_context(acme):
        assert Task.objects.get(pk=task.pk).title == "Kept"


def test_a_failed_membership_change_leaves_no_entry(acme, acme_admin):
    before = newest_id(acme)
    membership = Membership.objects.get(organization=acme, user=acme_admin)
    Membership.objects.filter(organization=acme, role=Role.ADMIN).exclude(pk=membership.pk).update(
        role=Role.MANAGER
    )

    with pytest.raises(ValidationError):
        membership_change_role(membership=membership, role=Role.MEMBER, actor=acme_admin)
    with pytest.raises(ValidationError):
        membership_delete(membership=membership, actor=acme_admin)

    assert entries_after(acme, before) == []


# --- Per schema -------------------------------------------------------------------------------


def test_entries_are_written_in_the_organizations_own_schema_only(acme, globex, acme_manager):
    globex_before = newest_id(globex)
    acme_before = newest_id(acme)

    project = make_project(acme, created_by=acme_manager, name="Acme only entries")
    make_task(acme, project=project, created_by=acme_manager, title="Acme only task")

    assert len(entries_after(acme, acme_before)) == 2
    assert entries_after(globex, globex_before) == []
    assert entries(globex, target_label__in=["Acme only entries", "Acme only task"]) == []
