"""Membership services: removal ends task assignments; role changes keep an ADMIN."""

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import tenant_context

from shared_apps.organizations.models import Membership, Role
from shared_apps.organizations.services import membership_change_role, membership_delete
from tenant_apps.tasks.models import Task
from tests.factories import client_for, make_member, make_project, make_task


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
