"""saas/api/exceptions.py: services' Django exceptions become DRF JSON responses; a row removed by a
concurrent request is a 404 because the service says so (Http404), while any other missing row
(DoesNotExist) is a bug and stays a 500."""

import pytest
from django.core.exceptions import (
    ObjectDoesNotExist,
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    ValidationError,
)
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from saas.api.exceptions import exception_handler
from shared_apps.organizations import apis
from shared_apps.organizations.models import Membership, Role
from shared_apps.organizations.services import MEMBERSHIP_GONE
from tenant_apps.projects.apis import ProjectViewSet
from tenant_apps.tasks.models import Task
from tests.factories import client_for, make_member


def test_http404_becomes_a_404():
    response = exception_handler(Http404(), {})

    assert isinstance(response, Response)
    assert response.status_code == 404
    assert response.data == {"detail": "Not found."}


@pytest.mark.parametrize(
    "exc",
    [Membership.DoesNotExist(), Task.DoesNotExist(), ObjectDoesNotExist()],
    ids=["Membership.DoesNotExist", "Task.DoesNotExist", "ObjectDoesNotExist"],
)
def test_a_missing_row_nobody_expected_is_left_to_the_server_error_handler(exc):
    assert exception_handler(exc, {}) is None


def test_a_body_over_the_limit_becomes_a_413_naming_the_limit(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1234

    response = exception_handler(RequestDataTooBig("too big"), {})

    assert response.status_code == 413
    assert response.data == {"detail": "The request body is larger than the limit of 1234 bytes."}


def test_too_many_parameters_become_a_400_naming_the_limit(settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 7

    response = exception_handler(TooManyFieldsSent("too many"), {})

    assert response.status_code == 400
    assert "at most 7" in response.data["detail"]


def _context(method: str, actions: dict) -> dict:
    view = ProjectViewSet(action_map=actions)
    view.setup(getattr(APIRequestFactory(), method.lower())("/"))
    for verb, action in actions.items():
        setattr(view, verb, getattr(view, action))
    return {"view": view, "request": view.request}


@pytest.mark.parametrize(
    "exc",
    [exceptions.PermissionDenied(), PermissionDenied(), exceptions.NotAuthenticated()],
    ids=["PermissionDenied", "django PermissionDenied", "NotAuthenticated"],
)
def test_a_refused_method_the_view_does_not_have_becomes_a_405(exc):
    context = _context("PUT", {"get": "list", "post": "create"})

    response = exception_handler(exc, context)

    assert response.status_code == 405
    assert response.data == {"detail": 'Method "PUT" not allowed.'}


def test_a_refused_method_the_view_has_stays_a_403():
    context = _context("POST", {"get": "list", "post": "create"})

    response = exception_handler(exceptions.PermissionDenied(), context)

    assert response.status_code == 403


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

    def removed_meanwhile(*, membership, **kwargs):
        Membership.objects.filter(pk=membership.pk).delete()
        return real_delete(membership=membership, **kwargs)

    monkeypatch.setattr(apis, "membership_delete", removed_meanwhile)

    response = client_for(acme_admin, acme).delete(f"/api/members/{membership.pk}/")

    assert response.status_code == 404, response.content
    assert response.json() == {"detail": MEMBERSHIP_GONE}


@pytest.mark.django_db
def test_a_role_change_of_a_member_removed_during_the_request_answers_404(
    acme, acme_admin, monkeypatch
):
    leaver = make_member(acme, Role.MEMBER)
    membership = Membership.objects.get(organization=acme, user=leaver)
    real_change = apis.membership_change_role

    def removed_meanwhile(*, membership, role, **kwargs):
        Membership.objects.filter(pk=membership.pk).delete()
        return real_change(membership=membership, role=role, **kwargs)

    monkeypatch.setattr(apis, "membership_change_role", removed_meanwhile)

    response = client_for(acme_admin, acme).patch(
        f"/api/members/{membership.pk}/", {"role": "MANAGER"}, format="json"
    )

    assert response.status_code == 404, response.content
    assert response.json() == {"detail": MEMBERSHIP_GONE}
    assert not Membership.objects.filter(pk=membership.pk).exists()
