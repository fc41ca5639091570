"""Membership services: removal ends task assignments; role changes keep an ADMIN."""

import pytest
from django.core.exceptions import ValidationError
from django.http import Http404
from django_tenants.utils import tenant_context

from shared_apps.organizations.models import Membership, Organization, Role
from shared_apps.organizations.services import (
    INACTIVE_USER,
    membership_add,
    membership_change_role,
    membership_delete,
)
from tenant_apps.tasks.models import Task
from tests.factories import client_for, make_member, make_project, make_task, make_user


def test_removing_a_member_unassigns_them_from_that_organizations_tasks_only(
    acme, globex, acme_admin
):
    both = make_member(acme, Role.MEMBER)
    Membership.objects.create(user=both, organization=globex, role=Role.MEMBER)
    globex_admin = make_member(globex, Role.ADMIN)
    acme_task = make_task(
        acme,
        project=make_project(acme, created_by=acme_admin),
        created_by=acme_admin,
        assignee_ids=[both.pk, acme_admin.pk],
    )
    globex_task = make_task(
        globex,
        project=make_project(globex, created_by=globex_admin),
        created_by=globex_admin,
        assignee_ids=[both.pk],
    )

    response = client_for(acme_admin, acme).delete(
        f"/api/members/{Membership.objects.get(user=both, organization=acme).pk}/"
    )

    assert response.status_code == 204
    with tenant_context(acme):
        assert list(Task.objects.get(pk=acme_task.pk).assignees.values_list("id", flat=True)) == [
            acme_admin.pk
        ]
    with tenant_context(globex):
        assert list(Task.objects.get(pk=globex_task.pk).assignees.values_list("id", flat=True)) == [
            both.pk
        ]


def test_the_last_admin_cannot_be_demoted_by_the_service(acme):
    Membership.objects.filter(organization=acme, role=Role.ADMIN).delete()
    only_admin = make_member(acme, Role.ADMIN)
    membership = Membership.objects.get(user=only_admin, organization=acme)

    with pytest.raises(ValidationError):
        membership_change_role(membership=membership, role=Role.MEMBER)
    with pytest.raises(ValidationError):
        membership_delete(membership=membership)

    membership.refresh_from_db()
    assert membership.role == Role.ADMIN


def test_an_admin_can_step_down_when_another_admin_remains(acme, acme_admin):
    membership = Membership.objects.get(user=acme_admin, organization=acme)

    membership_change_role(membership=membership, role=Role.MANAGER)

    membership.refresh_from_db()
    assert membership.role == Role.MANAGER


# --- a membership removed meanwhile: DoesNotExist (the API's 404), nothing changed ---------


def _removed_meanwhile(organization, role=Role.MEMBER) -> Membership:
    """A membership object whose row another request has just deleted."""
    user = make_member(organization, role)
    membership = Membership.objects.select_related("organization").get(
        user=user, organization=organization
    )
    Membership.objects.filter(pk=membership.pk).delete()
    return membership


def test_changing_the_role_of_a_removed_membership_raises_http404(acme, acme_admin):
    membership = _removed_meanwhile(acme)

    with pytest.raises(Http404):
        membership_change_role(membership=membership, role=Role.MANAGER)

    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_deleting_a_removed_membership_raises_http404_and_unassigns_nobody(acme, acme_admin):
    # The user is re-added (a new row) after the old one went: deleting the stale object
    # must not unassign the current member.
    membership = _removed_meanwhile(acme)
    Membership.objects.create(user=membership.user, organization=acme, role=Role.MEMBER)
    task = make_task(
        acme,
        project=make_project(acme, created_by=acme_admin),
        created_by=acme_admin,
        assignee_ids=[membership.user_id],
    )

    with pytest.raises(Http404):
        membership_delete(membership=membership)

    assert Membership.objects.filter(user=membership.user, organization=acme).exists()
    with tenant_context(acme):
        assignees = list(Task.objects.get(pk=task.pk).assignees.values_list("id", flat=True))
    assert assignees == [membership.user_id]


def test_deleting_a_removed_admin_membership_raises_http404_not_last_admin(acme):
    # Stale object says ADMIN; the row is gone, so the answer is "not found", not a rule.
    membership = _removed_meanwhile(acme, Role.ADMIN)

    with pytest.raises(Http404):
        membership_delete(membership=membership)


def test_role_change_and_removal_use_the_row_as_it_is_now_not_the_stale_object(acme, acme_admin):
    # The stale object says MEMBER, but the row is the organization's only ADMIN: the
    # services re-read (and lock) the row, so the last-ADMIN rule sees the current role.
    Membership.objects.filter(organization=acme, role=Role.ADMIN).exclude(user=acme_admin).delete()
    stale = Membership.objects.get(user=acme_admin, organization=acme)
    stale.role = Role.MEMBER  # not saved: the row is still ADMIN (and the only one)

    with pytest.raises(ValidationError):
        membership_delete(membership=stale)
    with pytest.raises(ValidationError):
        membership_change_role(membership=stale, role=Role.MANAGER)

    assert Membership.objects.get(pk=stale.pk).role == Role.ADMIN


# --- membership_add refuses inactive users and the public site ------------------------------


def test_membership_add_refuses_an_inactive_user(acme):
    user = make_user()
    user.is_active = False
    user.save(update_fields=["is_active"])

    with pytest.raises(ValidationError) as raised:
        membership_add(organization=acme, user=user, role=Role.MEMBER)

    assert raised.value.message_dict == {"user": [INACTIVE_USER]}
    assert not Membership.objects.filter(user=user).exists()


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MEMBER])
def test_membership_add_refuses_the_public_organization(db, role):
    public = Organization.objects.get(schema_name="public")
    user = make_user()

    with pytest.raises(ValidationError) as raised:
        membership_add(organization=public, user=user, role=role)

    assert raised.value.messages == ["The public site has no members."]
    assert not Membership.objects.filter(organization=public).exists()


def test_membership_add_accepts_an_active_user(acme):
    user = make_user()

    membership = membership_add(organization=acme, user=user, role=Role.MANAGER)

    assert (membership.user, membership.organization, membership.role) == (
        user,
        acme,
        Role.MANAGER,
    )
