"""The OpenAPI schemas against the API itself: schemathesis, a generic OpenAPI fuzzer, sends
schema-valid and schema-invalid requests to every operation of each host's schema, in-process
through the WSGI application, as each role and without a token, and reports any server error,
undocumented status code, content type or header, response body its schema contradicts,
invalid input accepted, or authentication ignored. Then chains of linked operations (create,
read, change, delete, restore the same object) as a stateful run.

The budget is fixed and so is the seed: the same requests every run. `make fuzz` runs the same
tests with a larger budget (FUZZ_EXAMPLES, FUZZ_STEPS); FUZZ_SEED explores other requests."""

import os
from contextlib import contextmanager

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, Phase, given, seed, settings
from knox.models import AuthToken
from schemathesis import checks
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from schemathesis.generation.modes import GenerationMode
from schemathesis.openapi.checks import UseAfterFree

from saas.role_matrix import ALLOWED, CAPABILITIES
from shared_apps.organizations.models import Role
from tests.factories import client_for, host_of
from tests.security.world import build_world

pytestmark = pytest.mark.django_db

# Examples per operation and generation mode (schema-valid, schema-invalid), and steps of the
# stateful run: the CI budget (about 2 minutes on 2 cores); `make fuzz` raises both.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
STEPS = int(os.environ.get("FUZZ_STEPS", "15"))
SEED = int(os.environ.get("FUZZ_SEED", "20260"))


def _use_after_free(role):
    """schemathesis' use_after_free (an object answers after its DELETE succeeded), told what
    the schema cannot tell it about the trash: `POST <object>/restore/` brings a deleted object
    back (its own idea of re-creation is a POST or PUT to the object's path or a parent's),
    and `role` may still read what the role matrix lets it read of a trashed object (a deleted
    task's history, for ADMIN and MANAGER; a MEMBER must get 404 there)."""

    def use_after_free(ctx, response, case):
        try:
            return checks.use_after_free(ctx, response, case)
        except UseAfterFree as failure:
            if _restored_since(ctx, failure.free, before=case):
                return None
            if _readable_in_the_trash(case, role):
                return None
            raise

    return use_after_free


def _readable_in_the_trash(case, role) -> bool:
    """Whether saas/role_matrix.py lets `role` make this request about an object in the trash."""
    if role is None:
        return False
    try:
        route = resolve(case.formatted_path, urlconf="saas.urls_tenants").url_name
    except Resolver404:
        return False
    method = case.operation.method.upper()
    return any(
        (rule.route, rule.method, rule.target) == (route, method, "trashed")
        and rule.outcome(role) == ALLOWED
        for capability in CAPABILITIES
        for rule in capability.rules
    )


def _restored_since(ctx, deletion: str, *, before) -> bool:
    """Whether the object `deletion` ("DELETE /api/tasks/5/") removed was restored by a
    successful request between the last such deletion and the case `before`."""
    method, _, path = deletion.partition(" ")
    restored = False
    for earlier in ctx.internals.find_all_cases():
        if earlier.id == before.id:
            break
        answer = ctx.internals.find_response(case_id=earlier.id)
        if answer is None or not 200 <= answer.status_code < 300:
            continue
        request = (earlier.operation.method.upper(), earlier.formatted_path)
        if request == (method, path):
            restored = False
        elif request == ("POST", f"{path.rstrip('/')}/restore/"):
            restored = True
    return restored


# What every answer is held to. Left out: positive_data_acceptance, which expects every
# schema-valid request to succeed, while a well-formed request may still be refused for reasons
# a schema does not state (an unsigned cursor, a taken name, the last ADMIN): those are
# documented 400s/409s, which the checks below verify.
def _checks(role) -> list:
    """The checks, for requests made as `role` (None: no token)."""
    return [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        negative_data_rejection,
        ignored_auth,
        missing_required_header,
        unsupported_method,
        allow_header_conformance,
        _use_after_free(role),
    ]


HYPOTHESIS = settings(
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


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


@contextmanager
def _undone():
    """What the requests inside write is rolled back at the end: every example, or chain of
    steps, starts from the same rows, so that Hypothesis can replay and shrink a failure."""
    savepoint = transaction.savepoint()
    try:
        yield
    finally:
        transaction.savepoint_rollback(savepoint)


def _schema(organization):
    """The schema `organization`'s host serves (None: the base host), called in-process."""
    raw = client_for(None, organization).get("/api/schema/", HTTP_ACCEPT="application/json")
    schema = schemathesis.openapi.from_dict(raw.json())
    schema.app = get_wsgi_application()
    return schema


def _headers(user) -> dict:
    """A new token of `user` for each request (an earlier one may have been logged out); no
    header at all for None."""
    if user is None:
        return {}
    _, token = AuthToken.objects.create(user=user)
    return {"Authorization": f"Bearer {token}"}


def _fuzz(organization, user, role=None) -> list[str]:
    """Fuzz every operation of the schema served on `organization`'s host (None: the base
    host) as `user` (None: no token), whose role there is `role`; return a report per
    operation that failed a check."""
    schema = _schema(organization)
    checks_of_role = _checks(role)
    base_url = f"http://{host_of(organization)}"
    failures = []
    with _requests_share_the_test_transaction():
        for result in schema.get_all_operations():
            operation = result.ok()
            strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
                GenerationMode.NEGATIVE
            )

            @seed(SEED)
            @settings(HYPOTHESIS, max_examples=2 * EXAMPLES)
            @given(case=strategy)
            def check(case):
                with _undone():
                    case.call_and_validate(
                        base_url=base_url, headers=_headers(user), checks=checks_of_role
                    )

            try:
                check()
            except Exception as exc:  # noqa: BLE001 - schemathesis' report, collected for all
                failures.append(f"{operation.label}\n{exc}")
    return failures


@pytest.fixture
def acme_world(acme):
    """Acme with a user per role, tasks, projects, exports, a trashed task and project and an
    invitation, so that ids the fuzzer draws find rows of every kind."""
    world = build_world(acme, "Fuzz", foreign_ids=False)
    yield world
    world.remove_files()


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER, Role.MEMBER])
def test_every_organization_operation_answers_as_its_schema_documents(acme_world, role):
    failures = _fuzz(acme_world.organization, acme_world.users[role], role)

    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("signed_in", [True, False], ids=["admin", "anonymous"])
def test_every_base_host_operation_answers_as_its_schema_documents(acme_world, signed_in):
    failures = _fuzz(None, acme_world.users[Role.ADMIN] if signed_in else None)

    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MEMBER])
def test_linked_operations_on_the_same_object_answer_as_documented(acme_world, role):
    """Chains the schema's links (a created task read, changed, deleted, restored): each step
    is held to the same checks, and to use_after_free (a deleted object stays gone)."""
    schema = _schema(acme_world.organization)
    user = acme_world.users[role]
    checks_of_role = _checks(role)
    base_url = f"http://{acme_world.organization.domain}"

    class Workflow(schema.as_state_machine()):
        def setup(self):
            super().setup()
            self.savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)
            super().teardown()

        def get_call_kwargs(self, case):
            return {"base_url": base_url, "headers": _headers(user)}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(
                response,
                checks=checks_of_role,
                headers=kwargs.get("headers"),
                transport_kwargs=kwargs,
                recorder=self.recorder,
            )

    with _requests_share_the_test_transaction():
        seed(SEED)(Workflow)
        Workflow.run(
            settings=settings(HYPOTHESIS, max_examples=EXAMPLES, stateful_step_count=STEPS)
        )
