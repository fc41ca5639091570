"""Mass assignment: every write of both URLconfs (read from the resolver) is sent twice from the
same rows, once with a valid body and once with that body plus fields a client must never set
(role, is_staff, is_superuser, created_by, organization, schema_name, id, deleted_at,
created_at, ...). The second is ignored (the same answer, the same rows written) or a 400 with
nothing written; never does a forged field reach the database."""

import datetime
import re
from dataclasses import dataclass

import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from saas.role_matrix import ALLOWED, RULES
from shared_apps.accounts.models import User
from shared_apps.accounts.services import user_create
from shared_apps.accounts.tokens import email_verification_token, password_token, uid_for
from shared_apps.organizations.models import Invitation, Membership, Organization, Role
from shared_apps.organizations.services import invitation_create
from tenant_apps.exports.models import Export
from tenant_apps.projects.models import Project
from tenant_apps.tasks.models import Task
from tests.factories import client_for, make_user

from .matrix import role_based_routes, rule_request
from .routes import PUBLIC_URLCONF, WRITE_METHODS, routes
from .world import OrgWorld

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"
FORGED_ID = 987_654_321
LONG_AGO = "2001-02-03T04:05:06Z"


def forged_fields(world: OrgWorld, other: User, globex: Organization) -> dict:
    """Fields no client may set, with values that would show if one were taken."""
    return {
        "role": Role.ADMIN,
        "is_staff": True,
        "is_superuser": True,
        "is_active": False,
        "email_verified_at": LONG_AGO,
        "created_by": other.pk,
        "created_by_id": other.pk,
        "user": other.pk,
        "user_id": other.pk,
        "invited_by": other.pk,
        "organization": globex.pk,
        "organization_id": globex.pk,
        "tenant": globex.pk,
        "schema_name": "public",
        "domain": "globex.localhost",
        "id": FORGED_ID,
        "pk": FORGED_ID,
        "deleted_at": LONG_AGO,
        "deleted_by": other.pk,
        "created_at": LONG_AGO,
        "updated_at": LONG_AGO,
        "status": "done",  # an export's: only its job finishes it
        "rows_written": 10**6,
        "token_hash": "0" * 64,
        "accepted_at": LONG_AGO,
        "expires_at": "2999-01-01T00:00:00Z",
    }


# --- What the database holds that a client must not set ---------------------------------------


def _recent(moment) -> object:
    """Timestamps of rows a request creates are "recent"; a forged one would not be."""
    if moment is None:
        return None
    return "recent" if abs(timezone.now() - moment) < datetime.timedelta(minutes=10) else moment


# Columns that point at rows of another table of the state.
REFERENCES = {
    "organization_id": "organizations",
    "user_id": "users",
    "created_by_id": "users",
    "invited_by_id": "users",
    "deleted_by_id": "users",
    "project_id": "projects",
}


def _new(table: str, pk, known: dict[str, set]):
    """A row's id as the state shows it: itself if it existed before, else "new" (or
    "FORGED" if a client chose it): ids of new rows differ from one run to the next."""
    if pk is None or not known or pk in known.get(table, set()):
        return pk
    return "FORGED" if pk == FORGED_ID else "new"


def protected_state(world: OrgWorld, known: dict[str, set]) -> dict:
    """Security-relevant columns of public and of the organization's schema. Rows created
    since `known` (ids per table) appear by position, their ids and the references to them
    as "new" (or "FORGED"); timestamps of the last minutes as "recent"."""

    def rows(name: str, queryset, columns: list[str]) -> list:
        found = []
        for row in queryset.order_by("pk").values("pk", *columns):
            row["pk"] = _new(name, row["pk"], known)
            for column in columns:
                if column in REFERENCES:
                    row[column] = _new(REFERENCES[column], row[column], known)
                elif isinstance(row[column], datetime.datetime):
                    row[column] = _recent(row[column])
            found.append(row)
        return found

    connection.set_schema_to_public()
    state = {
        "users": rows(
            "users",
            User.objects.all(),
            ["email", "is_staff", "is_superuser", "is_active", "email_verified_at", "date_joined"],
        ),
        "organizations": rows(
            "organizations",
            Organization.objects.all(),
            ["slug", "schema_name", "is_active", "created_by_id", "created_at"],
        ),
        "memberships": rows(
            "memberships", Membership.objects.all(), ["organization_id", "user_id", "role"]
        ),
        "invitations": rows(
            "invitations",
            Invitation.objects.all(),
            ["organization_id", "email", "role", "invited_by_id", "accepted_at"],
        ),
    }
    with tenant_context(world.organization):
        state["projects"] = rows(
            "projects",
            Project.all_objects.all(),
            ["name", "created_by_id", "deleted_at", "deleted_by_id", "created_at"],
        )
        state["tasks"] = rows(
            "tasks",
            Task.all_objects.all(),
            ["project_id", "title", "status", "created_by_id", "deleted_at", "created_at"],
        )
        state["exports"] = rows(
            "exports",
            Export.objects.all(),
            ["created_by_id", "status", "rows_written", "filters", "created_at"],
        )
    return state


def ids_of(state: dict) -> dict[str, set]:
    return {name: {row["pk"] for row in table} for name, table in state.items()}


# --- The writes ------------------------------------------------------------------------------


@dataclass
class Write:
    """One write as a client that may make it sends it."""

    label: str
    client: object
    method: str
    url: str
    body: dict
    accepts: frozenset = frozenset()  # writable fields (a value there is no forgery)


def tenant_writes(world: OrgWorld) -> list[Write]:
    """Every write of the tenant URLconf, as an ADMIN (who may make them all), with the body
    and target of its first rule in the role matrix."""
    writes = []
    for name, route in role_based_routes().items():
        for method in sorted(route.methods() & set(WRITE_METHODS)):
            rule = next(
                r for r in RULES if (r.route, r.method) == (name, method) and r.admin == ALLOWED
            )
            url, body = rule_request(rule, Role.ADMIN, world)
            client = client_for(world.users[Role.ADMIN], world.organization)
            view = route.view_class(action=route.actions[method], kwargs={}, format_kwarg=None)
            fields = view.get_serializer_class()().fields
            accepts = frozenset(field for field, spec in fields.items() if not spec.read_only)
            writes.append(Write(f"{method} {name}", client, method, url, body or {}, accepts))
    return writes


def _invitation_token(world: OrgWorld, email: str, on_commit) -> str:
    """A pending invitation to `email` and its raw token, read from the email as a person does."""
    mail.outbox.clear()
    with on_commit(execute=True):  # the invitation is emailed once its transaction commits
        invitation_create(
            organization=world.organization,
            email=email,
            role=Role.MEMBER,
            invited_by=world.users[Role.ADMIN],
        )
    (message,) = mail.outbox
    return re.search(r"/accounts/invitations/([A-Za-z0-9_-]+)/", message.body).group(1)


def public_writes(world: OrgWorld, on_commit) -> list[Write]:
    """Every write of the public URLconf's API, each by a caller who may make it."""
    account = make_user(email="mass.assignment@test.example.com", password=PASSWORD)
    unverified = user_create(
        email="mass.unverified@test.example.com", password=PASSWORD, email_verified=False
    )
    invited = make_user(email="mass.invited@test.example.com")
    invitation = invitation_create(
        organization=world.organization, email=invited.email, role=Role.MEMBER, invited_by=None
    )
    token_for_new = _invitation_token(world, "mass.newcomer@test.example.com", on_commit)
    signed_in = client_for(account)
    anonymous = client_for(None)
    specs: dict[str, tuple[object, str, dict]] = {
        "organization-list": (signed_in, "/api/orgs/", {"name": "Mass Co", "slug": "sec-mass-co"}),
        "auth-register": (
            anonymous,
            "/api/auth/register/",
            {"email": "mass.new@test.example.com", "password": PASSWORD, "full_name": "New"},
        ),
        "auth-login": (
            anonymous,
            "/api/auth/login/",
            {"email": account.email, "password": PASSWORD},
        ),
        "auth-verify-email": (
            anonymous,
            "/api/auth/verify-email/",
            {
                "uid": uid_for(unverified),
                "token": email_verification_token.make_token(unverified),
                "password": PASSWORD,
            },
        ),
        "auth-password-reset": (anonymous, "/api/auth/password-reset/", {"email": account.email}),
        "auth-password-reset-confirm": (
            anonymous,
            "/api/auth/password-reset/confirm/",
            {
                "uid": uid_for(account),
                "token": password_token.make_token(account),
                "new_password": "another-long-passphrase-7",
            },
        ),
        "auth-password-change": (
            signed_in,
            "/api/auth/password/",
            {"current_password": PASSWORD, "new_password": "another-long-passphrase-7"},
        ),
        "auth-logout": (signed_in, "/api/auth/logout/", {}),
        "auth-logout-all": (signed_in, "/api/auth/logout-all/", {}),
        "auth-invitation-accept-token": (
            anonymous,
            "/api/auth/invitations/accept/",
            {"token": token_for_new, "password": PASSWORD, "full_name": "Newcomer"},
        ),
        "auth-invitation-accept": (
            client_for(invited),
            f"/api/auth/invitations/{invitation.pk}/accept/",
            {},
        ),
    }
    writes = []
    for route in routes(PUBLIC_URLCONF):
        methods = route.methods() or frozenset()
        if not route.route.startswith("api/") or route.is_api_not_found:
            continue
        for method in sorted(methods & set(WRITE_METHODS)):
            assert route.name in specs, f"{method} {route.route}: add how to send it"
            client, url, body = specs[route.name]
            writes.append(Write(f"{method} {route.name}", client, method, url, body))
    return writes


def _send(write: Write, body: dict, world: OrgWorld, known: dict):
    """Send the write in a savepoint that is rolled back; its answer and what it wrote."""
    with transaction.atomic():
        response = getattr(write.client, write.method.lower())(write.url, body, format="json")
        state = protected_state(world, known)
        transaction.set_rollback(True)
    connection.set_schema_to_public()
    return response, state


def _check(write: Write, forged: dict, world: OrgWorld, start: dict, known: dict) -> list[str]:
    valid, valid_state = _send(write, write.body, world, known)
    if not 200 <= valid.status_code < 300:
        return [f"{write.label}: the valid request answered {valid.status_code} {valid.content}"]
    fields = {
        name: value
        for name, value in forged.items()
        if name not in write.body and name not in write.accepts
    }

    def attempt(extra: dict) -> tuple[int, str | None]:
        """The status with the forged `extra` fields, and what is wrong (None: nothing)."""
        response, state = _send(write, {**write.body, **extra}, world, known)
        if response.status_code == 400 and state == start:
            return 400, None  # refused, nothing written
        if response.status_code != valid.status_code:
            return response.status_code, (
                f"{response.status_code} with {sorted(extra)}, {valid.status_code} without"
            )
        if state != valid_state:
            changed = [name for name in state if state[name] != valid_state[name]]
            return response.status_code, f"{sorted(extra)} changed {changed}"
        return response.status_code, None  # ignored

    status, problem = attempt(fields)
    found = [problem]
    if status == 400 and problem is None:
        # Refused as a whole: each field alone must be refused or ignored as well.
        found = [attempt({name: value})[1] for name, value in fields.items()]
    return [f"{write.label}: {problem}" for problem in found if problem]


def _run(writes: list[Write], world: OrgWorld, forged: dict) -> None:
    start = protected_state(world, {})
    known = ids_of(start)
    start = protected_state(world, known)
    failures = []
    for write in writes:
        failures += _check(write, forged, world, start, known)
    assert not failures, "\n".join(failures)


def test_no_write_of_an_organizations_api_takes_a_forged_field(acme_world, globex_world):
    forged = forged_fields(acme_world, globex_world.users[Role.ADMIN], globex_world.organization)
    writes = tenant_writes(acme_world)
    assert {w.label for w in writes} >= {"POST task-list", "PATCH task-detail", "POST export-list"}
    _run(writes, acme_world, forged)


def test_no_write_of_the_public_api_takes_a_forged_field(
    acme_world, globex_world, mailoutbox, django_capture_on_commit_callbacks
):
    forged = forged_fields(acme_world, globex_world.users[Role.ADMIN], globex_world.organization)
    writes = public_writes(acme_world, django_capture_on_commit_callbacks)
    assert {w.label for w in writes} >= {"POST organization-list", "POST auth-register"}
    _run(writes, acme_world, forged)
