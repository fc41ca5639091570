"""Onboarding (admin, command line, demo seed) is all-or-nothing; the admin keeps invariants."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_exists, tenant_context

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Domain, Membership, Organization, Role
from shared_apps.organizations.services import onboarding as services
from shared_apps.organizations.services import organization_create
from tenant_apps.projects.models import Project
from tenant_apps.tasks.management.commands.seed_demo import (
    DEMO_PASSWORD,
    ORGANIZATIONS,
    STAFF_EMAIL,
)
from tenant_apps.tasks.models import Task
from tests.factories import make_member, make_project, make_task, make_user

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/organizations/organization/add/"
CHANGELIST_URL = "/admin/organizations/organization/"
NO_ORGANIZATION = {"detail": "No organization is served at this address."}


def _tenant_tables(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema]
        )
        return {name for (name,) in cursor.fetchall()} & {"projects_project", "tasks_task"}


def _assert_nothing_created(slug: str) -> None:
    assert not Organization.objects.filter(slug=slug).exists()
    assert not Domain.objects.filter(domain=f"{slug}.localhost").exists()
    assert not Membership.objects.filter(organization__slug=slug).exists()
    assert not schema_exists(f"org_{slug}")


def _assert_onboarded(slug: str, admin_email: str) -> Organization:
    """The organization has its row, domain, migrated schema and ADMIN, and answers on its host."""
    organization = Organization.objects.get(slug=slug)
    assert organization.schema_name == f"org_{slug}"
    assert organization.is_active
    assert Domain.objects.get(domain=f"{slug}.localhost").tenant == organization
    assert schema_exists(f"org_{slug}")
    assert _tenant_tables(f"org_{slug}") == {"projects_project", "tasks_task"}
    membership = Membership.objects.get(organization=organization)
    assert (membership.user.email, membership.role) == (admin_email, Role.ADMIN)
    response = Client(HTTP_HOST=f"{slug}.localhost").get("/no-such-page/")
    assert response.wsgi_request.tenant == organization
    return organization


# --- Admin --------------------------------------------------------------------------------


def test_the_admin_add_page_asks_for_name_subdomain_and_first_admin(staff_client):
    response = staff_client.get(ADD_URL)

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert list(form.fields) == ["name", "slug", "admin_email"]
    for field in ("name", "slug", "admin_email"):
        assert f'name="{field}"' in response.content.decode()


def test_staff_onboard_an_organization_and_a_new_first_admin_from_the_admin(staff_client):
    response = staff_client.post(
        ADD_URL,
        {"name": "Initech", "slug": "initech", "admin_email": "Bill@Initech.example.com"},
        follow=True,
    )

    assert response.redirect_chain[0][1] == 302
    assert response.status_code == 200
    organization = _assert_onboarded("initech", "bill@initech.example.com")
    assert organization.name == "Initech"
    new_admin = User.objects.get(email="bill@initech.example.com")
    assert new_admin.is_active
    assert not new_admin.has_usable_password()
    messages = [str(message) for message in response.context["messages"]]
    assert any(
        "bill@initech.example.com" in message and "password" in message for message in messages
    )


def test_onboarding_from_the_admin_reuses_an_existing_user_as_first_admin(staff_client):
    existing = make_user(email="peter@test.example.com")
    users_before = User.objects.count()

    response = staff_client.post(
        ADD_URL, {"name": "Initrode", "slug": "initrode", "admin_email": "PETER@test.example.com"}
    )

    assert response.status_code == 302
    _assert_onboarded("initrode", existing.email)
    assert User.objects.count() == users_before


def test_the_admin_form_shows_why_a_slug_is_refused_and_creates_nothing(staff_client):
    users_before = User.objects.count()

    response = staff_client.post(
        ADD_URL, {"name": "World Wide", "slug": "www", "admin_email": "ww@test.example.com"}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["slug"] == [
        '"www" is reserved. Choose another subdomain.'
    ]
    assert "is reserved. Choose another subdomain." in response.content.decode()
    _assert_nothing_created("www")
    assert User.objects.count() == users_before


def test_the_admin_form_refuses_an_admin_email_too_long_to_store(staff_client):
    # Valid syntax (forms.EmailField allows 320 characters), longer than the 254-char column.
    email = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".com"

    response = staff_client.post(
        ADD_URL, {"name": "Long Mail", "slug": "long-mail", "admin_email": email}
    )

    assert response.status_code == 200
    assert "admin_email" in response.context["adminform"].form.errors
    _assert_nothing_created("long-mail")


def test_the_admin_form_refuses_a_slug_that_is_taken(staff_client):
    response = staff_client.post(
        ADD_URL, {"name": "Acme Two", "slug": "acme", "admin_email": "a2@test.example.com"}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["slug"] == ["This subdomain is already taken."]
    assert Organization.objects.get(slug="acme").name == "Acme Corp"
    assert not User.objects.filter(email="a2@test.example.com").exists()


def test_the_admin_lists_customer_organizations_but_not_the_public_site(staff_client, acme, globex):
    response = staff_client.get(CHANGELIST_URL)

    assert response.status_code == 200
    listed = list(response.context["cl"].result_list)
    assert acme in listed and globex in listed
    assert not any(organization.is_public for organization in listed)


def test_the_admin_change_page_lists_the_organization_memberships(staff_client, acme):
    manager = make_member(acme, Role.MANAGER, email="manny@test.example.com")

    response = staff_client.get(f"{CHANGELIST_URL}{acme.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert manager.email in page
    assert "founder-acme@test.example.com" in page
    memberships = next(
        formset.formset
        for formset in response.context["inline_admin_formsets"]
        if formset.formset.model is Membership
    )
    assert {(form.instance.user.email, form.instance.role) for form in memberships.forms} >= {
        ("manny@test.example.com", Role.MANAGER),
        ("founder-acme@test.example.com", Role.ADMIN),
    }


def test_the_deactivate_action_takes_the_subdomain_offline_and_reactivate_brings_it_back(
    staff_client, acme
):
    response = staff_client.post(
        CHANGELIST_URL, {"action": "deactivate", "_selected_action": [acme.pk]}
    )

    assert response.status_code == 302
    acme.refresh_from_db()
    assert not acme.is_active
    offline = Client(HTTP_HOST="acme.localhost").get("/no-such-page/")
    assert offline.status_code == 404
    assert offline.json() == NO_ORGANIZATION
    assert schema_exists("org_acme")

    staff_client.post(CHANGELIST_URL, {"action": "reactivate", "_selected_action": [acme.pk]})

    acme.refresh_from_db()
    assert acme.is_active
    online = Client(HTTP_HOST="acme.localhost").get("/no-such-page/")
    assert online.wsgi_request.tenant == acme


def test_organizations_cannot_be_deleted_in_the_admin(staff_client, acme):
    changelist = staff_client.get(CHANGELIST_URL)
    actions = [value for value, _ in changelist.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in actions
    assert "deactivate" in actions

    response = staff_client.post(f"{CHANGELIST_URL}{acme.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert Organization.objects.filter(pk=acme.pk).exists()
    assert schema_exists("org_acme")


MEMBERSHIP_URL = "/admin/organizations/membership/"


def test_removing_a_member_in_the_admin_also_ends_their_task_assignments(staff_client, acme):
    # Assignees must be members: membership_delete unassigns; the admin must not skip that.
    admin = make_member(acme, Role.ADMIN)
    leaver = make_member(acme, Role.MEMBER)
    task = make_task(
        acme,
        project=make_project(acme, created_by=admin),
        created_by=admin,
        assignee_ids=[leaver.pk, admin.pk],
    )
    membership = Membership.objects.get(organization=acme, user=leaver)

    staff_client.post(f"{MEMBERSHIP_URL}{membership.pk}/delete/", {"post": "yes"})

    assert not Membership.objects.filter(organization=acme, user=leaver).exists()
    with tenant_context(acme):
        assignees = set(Task.objects.get(pk=task.pk).assignees.values_list("id", flat=True))
    assert assignees == {admin.pk}


def test_the_admin_cannot_remove_an_organizations_last_admin(staff_client, acme):
    only_admin = Membership.objects.get(organization=acme, role=Role.ADMIN)

    staff_client.post(f"{MEMBERSHIP_URL}{only_admin.pk}/delete/", {"post": "yes"})

    assert Membership.objects.filter(organization=acme, role=Role.ADMIN).exists()


# --- Command line -------------------------------------------------------------------------


def test_create_org_provisions_a_working_organization_and_prints_its_url(settings):
    settings.SITE_SCHEME, settings.SITE_PORT = "http", "8000"
    out = StringIO()

    call_command(
        "create_org",
        "--name",
        "Beta Inc",
        "--slug",
        "beta",
        "--admin-email",
        "b@example.com",
        stdout=out,
    )

    beta = _assert_onboarded("beta", "b@example.com")
    assert "URL: http://beta.localhost:8000/" in out.getvalue()
    assert "b@example.com" in out.getvalue()
    project = make_project(beta, created_by=User.objects.get(email="b@example.com"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM org_beta.projects_project")
        assert cursor.fetchall() == [(project.name,)]


def test_create_org_with_a_bad_slug_fails_and_creates_nothing():
    with pytest.raises(CommandError, match='slug: "admin" is reserved'):
        call_command(
            "create_org",
            "--name",
            "Bad",
            "--slug",
            "admin",
            "--admin-email",
            "bad@example.com",
            stdout=StringIO(),
        )

    _assert_nothing_created("admin")
    assert not User.objects.filter(email="bad@example.com").exists()


def test_create_org_with_an_invalid_admin_email_fails_and_creates_nothing():
    with pytest.raises(CommandError, match="admin_email: Enter a valid email address."):
        call_command(
            "create_org",
            "--name",
            "Gamma",
            "--slug",
            "gamma",
            "--admin-email",
            "not-an-email",
            stdout=StringIO(),
        )

    _assert_nothing_created("gamma")


def test_create_org_with_an_admin_email_too_long_to_store_fails_cleanly_and_creates_nothing():
    # Valid syntax (EmailValidator allows up to 320 characters), longer than the 254-char column.
    email = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".com"

    with pytest.raises(CommandError, match="admin_email"):
        call_command(
            "create_org",
            "--name",
            "Delta",
            "--slug",
            "delta",
            "--admin-email",
            email,
            stdout=StringIO(),
        )

    _assert_nothing_created("delta")


# --- Failure half-way ---------------------------------------------------------------------


def _fail(*args, **kwargs):
    raise RuntimeError("simulated crash")


def _fail_after_real_create_schema(monkeypatch):
    real_create_schema = Organization.create_schema

    def create_schema_then_crash(self, *args, **kwargs):
        real_create_schema(self, *args, **kwargs)
        raise RuntimeError("simulated crash after migrating the schema")

    monkeypatch.setattr(Organization, "create_schema", create_schema_then_crash)


FAILURES = {
    "schema migration": _fail_after_real_create_schema,
    "domain": lambda monkeypatch: monkeypatch.setattr(services.Domain.objects, "create", _fail),
    "membership": lambda monkeypatch: monkeypatch.setattr(
        services.Membership.objects, "create", _fail
    ),
}


@pytest.mark.parametrize("failing_step", FAILURES)
def test_a_failure_during_onboarding_leaves_no_row_domain_or_schema(monkeypatch, failing_step):
    admin = make_user()
    counts_before = (
        Organization.objects.count(),
        Domain.objects.count(),
        Membership.objects.count(),
    )
    FAILURES[failing_step](monkeypatch)

    with pytest.raises(RuntimeError, match="simulated crash"):
        organization_create(name="Doomed", slug="doomed", admin=admin)

    _assert_nothing_created("doomed")
    assert (Organization.objects.count(), Domain.objects.count(), Membership.objects.count()) == (
        counts_before
    )


def test_onboarding_can_be_retried_with_the_same_slug_after_a_failure(monkeypatch):
    admin = make_user(email="retry@test.example.com")
    monkeypatch.setattr(services.Membership.objects, "create", _fail)
    with pytest.raises(RuntimeError):
        organization_create(name="Retry", slug="retry", admin=admin)
    monkeypatch.undo()

    organization_create(name="Retry", slug="retry", admin=admin)

    _assert_onboarded("retry", "retry@test.example.com")


# --- Demo seed ----------------------------------------------------------------------------


def _seed_footprint() -> dict:
    footprint = {
        "users": User.objects.count(),
        "memberships": Membership.objects.count(),
        "organizations": Organization.objects.count(),
    }
    for slug in ORGANIZATIONS:
        with tenant_context(Organization.objects.get(slug=slug)):
            footprint[slug] = (
                sorted(Project.objects.values_list("name", flat=True)),
                Task.objects.count(),
            )
    return footprint


def test_seed_demo_is_idempotent(acme, globex):
    call_command("seed_demo", "--force", stdout=StringIO())
    first = _seed_footprint()

    call_command("seed_demo", "--force", stdout=StringIO())

    assert _seed_footprint() == first
    assert first["acme"] == (["Mobile app", "Website relaunch"], 12)
    assert first["globex"] == (["Q4 planning"], 6)


def test_seed_demo_gives_each_demo_organization_an_admin_a_manager_and_a_member(db):
    call_command("seed_demo", "--force", stdout=StringIO())

    for slug, spec in ORGANIZATIONS.items():
        roles = dict(
            Membership.objects.filter(organization__slug=slug).values_list("user__email", "role")
        )
        for email, _, role in spec["members"]:
            assert roles[email] == role, (slug, email)
        assert set(roles.values()) == set(Role.values), slug
    staff = User.objects.get(email=STAFF_EMAIL)
    assert staff.is_staff and staff.is_superuser
    assert authenticate(email="alice@acme.example.com", password=DEMO_PASSWORD) is not None


def test_seed_demo_refuses_to_run_without_debug_or_force(db):
    with pytest.raises(CommandError, match="published password"):
        call_command("seed_demo", stdout=StringIO())

    assert not User.objects.filter(email=STAFF_EMAIL).exists()
