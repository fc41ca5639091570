"""saas/exceptions.py: services' Django exceptions become DRF JSON responses, and a row that
vanished (DoesNotExist, e.g. removed by a concurrent request) becomes a 404, not a 500."""

import pytest
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import Http404
from rest_framework.response import Response

from saas.exceptions import exception_handler
from shared_apps.organizations import apis
from shared_apps.organizations.models import Membership, Role
from tenant_apps.tasks.models import Task
from tests.factories import client_for, make_member


@pytest.mark.parametrize(
    "exc",
    [Membership.DoesNotExist(), Task.DoesNotExist(), ObjectDoesNotExist(), Http404()],
    ids=["Membership.DoesNotExist", "Task.DoesNotExist", "ObjectDoesNotExist", "Http404"],
)
def test_a_missing_row_becomes_a_404(exc):
    response = exception_handler(exc, {})

    assert isinstance(response, Response)
    assert response.status_code == 404
    assert response.data == {"detail": "Not found."}


def test_a_field_validation_error_becomes_a_400_keyed_by_field():
    exc = ValidationError({"email": ["Bad email."], "__all__": ["Bad pair."]})

    response = exception_handler(exc, {})

    assert response.status_code == 400
    assert response.data == {"email": ["Bad email."], "non_field_errors": ["Bad pair."]}


def test_a_plain_validation_error_becomes_a_400_detail():
    response = exception_handler(ValidationError("Nope."), {})

    assert response.status_code == 400
    assert response.data == {"detail": "Nope."}


def test_anything_else_is_left_to_the_server_error_handler():
    assert exception_handler(RuntimeError("boom"), {}) is None


@pytest.mark.django_db
def test_a_member_removed_during_the_request_answers_404_not_500(acme, acme_admin, monkeypatch):
    # The row is found by get_object, then removed (as by a concurrent request) before the
    # service re-locks it: DoesNotExist from the service must reach the client as a 404.
    leaver = make_member(acme, Role.MEMBER)
    membership = Membership.objects.get(organization=acme, user=leaver)
    real_delete = apis.membership_delete

    def removed_meanwhile(*, membership):
        Membership.objects.filter(pk=membership.pk).delete()
        return real_delete(membership=membership)

    monkeypatch.setattr(apis, "membership_delete", removed_meanwhile)

    response = client_for(acme_admin, acme).delete(f"/api/members/{membership.pk}/")

    assert response.status_code == 404, response.content
    assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_a_role_change_of_a_member_removed_during_the_request_answers_404(
    acme, acme_admin, monkeypatch
):
    leaver = make_member(acme, Role.MEMBER)
    membership = Membership.objects.get(organization=acme, user=leaver)
    real_change = apis.membership_change_role

    def removed_meanwhile(*, membership, role):
        Membership.objects.filter(pk=membership.pk).delete()
        return real_change(membership=membership, role=role)

    monkeypatch.setattr(apis, "membership_change_role", removed_meanwhile)

    response = client_for(acme_admin, acme).patch(
        f"/api/members/{membership.pk}/", {"role": "MANAGER"}, format="json"
    )

    assert response.status_code == 404, response.content
    assert response.json() == {"detail": "Not found."}
    assert not Membership.objects.filter(pk=membership.pk).exists()
