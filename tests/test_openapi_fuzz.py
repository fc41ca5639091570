"""The OpenAPI schemas against the API itself: schemathesis, a generic OpenAPI fuzzer, sends
schema-valid and schema-invalid requests to every operation of each host's schema, in-process
through the WSGI application, as a real member, and reports any server error, undocumented
status code or content type, or response body its schema contradicts."""

from contextlib import contextmanager

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from knox.models import AuthToken
from schemathesis.checks import positive_data_acceptance
from schemathesis.generation.modes import GenerationMode

from shared_apps.organizations.models import Role
from tests.factories import client_for, host_of, make_member, make_project, make_task

pytestmark = pytest.mark.django_db

EXAMPLES = 12  # per operation and generation mode; deterministic (derandomize)
# Expects every schema-valid request to succeed, but a well-formed request may still be refused
# for reasons a schema does not state (an unsigned cursor, a taken name, the last ADMIN): those
# are documented 400s, which the other checks verify.
EXCLUDED_CHECKS = [positive_data_acceptance]


@contextmanager
def _requests_share_the_test_transaction():
    """Django closes the connection at each request's start and end; the test client stops it
    from doing so, and so must a WSGI caller whose test runs in one rolled-back transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _fuzz(organization, user) -> list[str]:
    """Fuzz every operation of the schema served on `organization`'s host (None: the base
    host) as `user`; return a report per operation that failed a check."""
    raw = client_for(None, organization).get("/api/schema/", HTTP_ACCEPT="application/json")
    schema = schemathesis.openapi.from_dict(raw.json())
    schema.app = get_wsgi_application()
    base_url = f"http://{host_of(organization)}"
    failures = []
    with _requests_share_the_test_transaction():
        for result in schema.get_all_operations():
            operation = result.ok()
            strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
                GenerationMode.NEGATIVE
            )

            @settings(
                max_examples=2 * EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def check(case):
                # A new token for each request: an earlier one may have been logged out.
                _, token = AuthToken.objects.create(user=user)
                case.call_and_validate(
                    base_url=base_url,
                    headers={"Authorization": f"Bearer {token}"},
                    excluded_checks=EXCLUDED_CHECKS,
                )

            try:
                check()
            except Exception as exc:  # noqa: BLE001 - schemathesis' report, collected for all
                failures.append(f"{operation.label}\n{exc}")
    return failures


@pytest.fixture
def acme_with_work(acme, acme_manager):
    """acme with a project, a task and members, so detail operations can find rows."""
    project = make_project(acme, created_by=acme_manager)
    assignee = make_member(acme, Role.MEMBER)
    make_task(acme, project=project, created_by=acme_manager, assignee_ids=[assignee.pk])
    return acme


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MEMBER])
def test_every_organization_operation_answers_as_its_schema_documents(acme_with_work, role):
    failures = _fuzz(acme_with_work, make_member(acme_with_work, role))

    assert not failures, "\n\n".join(failures)


def test_every_base_host_operation_answers_as_its_schema_documents(acme_with_work, acme_admin):
    failures = _fuzz(None, acme_admin)

    assert not failures, "\n\n".join(failures)
