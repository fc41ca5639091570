"""The admin keeps the membership rules: ADMIN swaps in one save, never zero ADMINs, no
deactivated users or public site, activation from the change form."""

import pytest
from django import forms
from django.conf import settings
from django.test import Client
from django.utils.html import strip_tags
from django_tenants.utils import schema_exists

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Domain, Membership, Organization, Role
from shared_apps.organizations.services import (
    INACTIVE_USER,
    LAST_ADMIN,
    membership_add,
    organization_create,
)
from tests.factories import client_for, make_user

pytestmark = pytest.mark.django_db

ORGANIZATIONS_URL = "/admin/organizations/organization/"
ADD_ORGANIZATION_URL = f"{ORGANIZATIONS_URL}add/"
MEMBERSHIPS_URL = "/admin/organizations/membership/"
ADD_MEMBERSHIP_URL = f"{MEMBERSHIPS_URL}add/"
AUTOCOMPLETE_URL = "/admin/autocomplete/"
NO_ORGANIZATION = {"detail": "No organization is served at this address."}
LAST_ADMIN_START = "An organization needs at least one ADMIN"


@pytest.fixture
def founder():
    """The only ADMIN of `organization`."""
    return make_user(email="ann@swap.example.com")


@pytest.fixture
def organization(founder) -> Organization:
    """A fresh organization whose admins are well defined: `founder` is its only ADMIN."""
    return organization_create(name="Swap Co", slug="swapco", admin=founder)


@pytest.fixture
def colleague(organization):
    """A MEMBER of `organization`."""
    user = make_user(email="bob@swap.example.com")
    membership_add(organization=organization, user=user, role=Role.MEMBER)
    return user


def _roles(organization) -> dict[str, str]:
    return dict(
        Membership.objects.filter(organization=organization).values_list("user__email", "role")
    )


def _form_data(response) -> dict:
    """The POST a browser would send for the change page as rendered: the main form and every
    inline formset (management form and rows), with their current values."""
    data: dict = {}

    def add(form):
        for name, field in form.fields.items():
            bound = form[name]
            value = bound.value()
            if isinstance(field, forms.BooleanField):
                if value:
                    data[bound.html_name] = "on"
                continue
            data[bound.html_name] = "" if value is None else value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.forms:
            add(form)
    return data


def _membership_rows(response) -> tuple[str, dict[int, int]]:
    """The membership formset's prefix and the row index of each member (by user id)."""
    formset = next(
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.model is Membership
    )
    return formset.prefix, {form.instance.user_id: i for i, form in enumerate(formset.forms)}


def _change_page(staff_client, organization):
    response = staff_client.get(f"{ORGANIZATIONS_URL}{organization.pk}/change/")
    assert response.status_code == 200
    return response


def _membership_formset_errors(response) -> list[str]:
    formset = next(
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.model is Membership
    )
    return list(formset.non_form_errors())


# --- (a) swapping ADMIN in one save -----------------------------------------------------------


def test_the_form_as_rendered_saves_unchanged(staff_client, organization, colleague):
    before = _roles(organization)

    response = staff_client.post(
        f"{ORGANIZATIONS_URL}{organization.pk}/change/",
        _form_data(_change_page(staff_client, organization)),
    )

    assert response.status_code == 302, response.context and response.context["errors"]
    assert _roles(organization) == before


def test_admin_can_pass_from_one_member_to_another_in_one_save(
    staff_client, organization, founder, colleague
):
    page = _change_page(staff_client, organization)
    data = _form_data(page)
    prefix, rows = _membership_rows(page)
    data[f"{prefix}-{rows[founder.pk]}-role"] = Role.MEMBER
    data[f"{prefix}-{rows[colleague.pk]}-role"] = Role.ADMIN

    response = staff_client.post(f"{ORGANIZATIONS_URL}{organization.pk}/change/", data)

    assert response.status_code == 302, _membership_formset_errors(response)
    assert _roles(organization) == {founder.email: Role.MEMBER, colleague.email: Role.ADMIN}


def test_admin_can_pass_to_a_new_member_and_remove_the_old_admin_in_one_save(
    staff_client, organization, founder, colleague
):
    newcomer = make_user(email="cy@swap.example.com")
    page = _change_page(staff_client, organization)
    data = _form_data(page)
    prefix, rows = _membership_rows(page)
    new_row = data[f"{prefix}-TOTAL_FORMS"]
    data[f"{prefix}-TOTAL_FORMS"] = int(new_row) + 1
    data.update(
        {
            f"{prefix}-{new_row}-user": newcomer.pk,
            f"{prefix}-{new_row}-role": Role.ADMIN,
            f"{prefix}-{new_row}-id": "",
            f"{prefix}-{new_row}-organization": organization.pk,
            f"{prefix}-{rows[founder.pk]}-DELETE": "on",
        }
    )

    response = staff_client.post(f"{ORGANIZATIONS_URL}{organization.pk}/change/", data)

    assert response.status_code == 302, _membership_formset_errors(response)
    assert _roles(organization) == {colleague.email: Role.MEMBER, newcomer.email: Role.ADMIN}


# --- (b) no edit may leave zero ADMINs ----------------------------------------------------------


@pytest.mark.parametrize("how", ["demote", "delete"])
def test_an_inline_edit_leaving_no_admin_is_refused_and_changes_nothing(
    staff_client, organization, founder, colleague, how
):
    page = _change_page(staff_client, organization)
    data = _form_data(page)
    prefix, rows = _membership_rows(page)
    if how == "demote":
        data[f"{prefix}-{rows[founder.pk]}-role"] = Role.MANAGER
    else:
        data[f"{prefix}-{rows[founder.pk]}-DELETE"] = "on"
    data[f"{prefix}-{rows[colleague.pk]}-role"] = Role.MANAGER
    data["name"] = "Renamed In The Same Save"
    before = _roles(organization)

    response = staff_client.post(f"{ORGANIZATIONS_URL}{organization.pk}/change/", data)

    assert response.status_code == 200
    assert _membership_formset_errors(response) == [LAST_ADMIN]
    assert LAST_ADMIN_START in response.content.decode()
    assert _roles(organization) == before
    organization.refresh_from_db()
    assert organization.name == "Swap Co"


# --- (c) onboarding with a deactivated account ------------------------------------------------


def test_onboarding_with_a_deactivated_users_email_is_refused_and_creates_nothing(staff_client):
    inactive = make_user(email="gone@test.example.com")
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    counts = (User.objects.count(), Organization.objects.count(), Membership.objects.count())

    response = staff_client.post(
        ADD_ORGANIZATION_URL,
        {"name": "Ghost Town", "slug": "ghost-town", "admin_email": "GONE@test.example.com"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["admin_email"] == [INACTIVE_USER]
    assert INACTIVE_USER in response.content.decode()
    assert (User.objects.count(), Organization.objects.count(), Membership.objects.count()) == (
        counts
    )
    assert not Domain.objects.filter(domain="ghost-town.localhost").exists()
    assert not schema_exists("org_ghost_town")
    inactive.refresh_from_db()
    assert not inactive.is_active


# --- (d) the Membership admin -----------------------------------------------------------------


def test_the_membership_add_form_offers_neither_the_public_site_nor_inactive_users(
    staff_client, acme
):
    active = make_user(email="active@test.example.com")
    inactive = make_user(email="inactive@test.example.com")
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    public = Organization.objects.get(schema_name="public")

    response = staff_client.get(ADD_MEMBERSHIP_URL)

    assert response.status_code == 200
    fields = response.context["adminform"].form.fields
    offered_organizations = set(fields["organization"].queryset)
    offered_users = set(fields["user"].queryset)
    assert acme in offered_organizations
    assert public not in offered_organizations
    assert active in offered_users
    assert inactive not in offered_users


def _autocomplete(staff_client, field_name: str, term: str) -> set[str]:
    response = staff_client.get(
        AUTOCOMPLETE_URL,
        {
            "app_label": "organizations",
            "model_name": "membership",
            "field_name": field_name,
            "term": term,
        },
    )
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_the_membership_forms_organization_search_leaves_out_the_public_site(staff_client, acme):
    public = Organization.objects.get(schema_name="public")

    offered = _autocomplete(staff_client, "organization", "")

    assert str(acme.pk) in offered
    assert str(public.pk) not in offered


def test_the_membership_forms_user_search_leaves_out_inactive_users(staff_client):
    # The user field is an autocomplete: what the form offers is what this search returns.
    active = make_user(email="searchable-active@test.example.com")
    inactive = make_user(email="searchable-inactive@test.example.com")
    User.objects.filter(pk=inactive.pk).update(is_active=False)

    offered = _autocomplete(staff_client, "user", "searchable-")

    assert str(active.pk) in offered
    assert str(inactive.pk) not in offered


def test_staff_add_a_membership_through_the_membership_admin(staff_client, organization, founder):
    user = make_user(email="new-manager@test.example.com")

    response = staff_client.post(
        ADD_MEMBERSHIP_URL,
        {"user": user.pk, "organization": organization.pk, "role": Role.MANAGER},
    )

    assert response.status_code == 302, response.context and response.context["errors"]
    assert _roles(organization) == {founder.email: Role.ADMIN, user.email: Role.MANAGER}
    assert client_for(user, organization).get("/api/projects/").status_code == 200


def test_the_membership_admin_refuses_an_inactive_user(staff_client, acme):
    inactive = make_user(email="inactive-add@test.example.com")
    User.objects.filter(pk=inactive.pk).update(is_active=False)

    response = staff_client.post(
        ADD_MEMBERSHIP_URL,
        {"user": inactive.pk, "organization": acme.pk, "role": Role.MEMBER},
    )

    assert response.status_code == 200
    assert "user" in response.context["adminform"].form.errors
    assert not Membership.objects.filter(user=inactive).exists()


def test_the_membership_admin_refuses_the_public_site(staff_client):
    user = make_user(email="public-add@test.example.com")
    public = Organization.objects.get(schema_name="public")

    response = staff_client.post(
        ADD_MEMBERSHIP_URL, {"user": user.pk, "organization": public.pk, "role": Role.ADMIN}
    )

    assert response.status_code == 200
    assert "organization" in response.context["adminform"].form.errors
    assert not Membership.objects.filter(user=user).exists()


def test_the_membership_admin_refuses_to_delete_the_last_admin(staff_client, organization, founder):
    only_admin = Membership.objects.get(organization=organization, role=Role.ADMIN)
    delete_url = f"{MEMBERSHIPS_URL}{only_admin.pk}/delete/"

    assert staff_client.get(delete_url).status_code == 403
    assert staff_client.post(delete_url, {"post": "yes"}).status_code == 403
    staff_client.post(
        MEMBERSHIPS_URL,
        {"action": "delete_selected", "_selected_action": [only_admin.pk], "post": "yes"},
    )

    assert Membership.objects.filter(pk=only_admin.pk, role=Role.ADMIN).exists()


def test_the_membership_admin_refuses_to_demote_the_last_admin(staff_client, organization, founder):
    only_admin = Membership.objects.get(organization=organization, role=Role.ADMIN)

    response = staff_client.post(
        f"{MEMBERSHIPS_URL}{only_admin.pk}/change/",
        {"user": founder.pk, "organization": organization.pk, "role": Role.MEMBER},
    )

    assert response.status_code == 200
    assert LAST_ADMIN_START in response.content.decode()
    assert Membership.objects.get(pk=only_admin.pk).role == Role.ADMIN


def test_the_membership_admin_deletes_an_admin_when_another_remains(
    staff_client, organization, founder, colleague
):
    Membership.objects.filter(organization=organization, user=colleague).update(role=Role.ADMIN)
    founder_membership = Membership.objects.get(organization=organization, user=founder)

    response = staff_client.post(
        f"{MEMBERSHIPS_URL}{founder_membership.pk}/delete/", {"post": "yes"}
    )

    assert response.status_code == 302
    assert _roles(organization) == {colleague.email: Role.ADMIN}


# --- (e) activation from the change form ------------------------------------------------------


def test_unticking_is_active_on_the_change_form_takes_the_subdomain_offline_and_back(
    staff_client, acme
):
    change_url = f"{ORGANIZATIONS_URL}{acme.pk}/change/"
    data = _form_data(_change_page(staff_client, acme))
    assert data["is_active"] == "on"
    del data["is_active"]

    response = staff_client.post(change_url, data)

    assert response.status_code == 302
    acme.refresh_from_db()
    assert not acme.is_active
    offline = Client(HTTP_HOST="acme.localhost").get("/api/projects/")
    assert offline.status_code == 404
    assert offline.json() == NO_ORGANIZATION
    assert schema_exists("org_acme")

    data = _form_data(_change_page(staff_client, acme))
    assert "is_active" not in data
    data["is_active"] = "on"

    response = staff_client.post(change_url, data)

    assert response.status_code == 302
    acme.refresh_from_db()
    assert acme.is_active
    online = Client(HTTP_HOST="acme.localhost").get("/no-such-page/")
    assert online.wsgi_request.tenant == acme
    assert online.json() == {"detail": "Not found."}


def _add_inline_row(page, data: dict, user: User, role: str) -> None:
    prefix, _ = _membership_rows(page)
    new_row = int(data[f"{prefix}-TOTAL_FORMS"])
    data[f"{prefix}-TOTAL_FORMS"] = new_row + 1
    data.update(
        {
            f"{prefix}-{new_row}-user": user.pk,
            f"{prefix}-{new_row}-role": role,
            f"{prefix}-{new_row}-id": "",
        }
    )


def test_adding_an_inactive_user_in_the_organization_inline_is_refused_not_a_crash(
    staff_client, organization, founder
):
    inactive = make_user(email="inactive-inline@test.example.com")
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    page = _change_page(staff_client, organization)
    data = _form_data(page)
    _add_inline_row(page, data, inactive, Role.MEMBER)

    response = staff_client.post(f"{ORGANIZATIONS_URL}{organization.pk}/change/", data)

    assert response.status_code == 200
    assert not Membership.objects.filter(user=inactive).exists()
    assert _roles(organization) == {founder.email: Role.ADMIN}


def test_adding_an_existing_member_again_in_the_organization_inline_is_refused(
    staff_client, organization, founder, colleague
):
    page = _change_page(staff_client, organization)
    data = _form_data(page)
    _add_inline_row(page, data, colleague, Role.MANAGER)

    response = staff_client.post(f"{ORGANIZATIONS_URL}{organization.pk}/change/", data)

    assert response.status_code == 200
    assert _roles(organization) == {founder.email: Role.ADMIN, colleague.email: Role.MEMBER}


def test_adding_an_active_user_in_the_organization_inline_makes_them_a_member(
    staff_client, organization, founder
):
    newcomer = make_user(email="inline-newcomer@test.example.com")
    page = _change_page(staff_client, organization)
    data = _form_data(page)
    _add_inline_row(page, data, newcomer, Role.MANAGER)

    response = staff_client.post(f"{ORGANIZATIONS_URL}{organization.pk}/change/", data)

    assert response.status_code == 302, _membership_formset_errors(response)
    assert _roles(organization) == {founder.email: Role.ADMIN, newcomer.email: Role.MANAGER}


# --- Pages: each thing shown once, in the right place ------------------------------------------


def test_the_organization_list_links_each_host_and_port_in_a_short_column(staff_client, acme):
    response = staff_client.get(ORGANIZATIONS_URL)

    link = f'<a href="http://acme.localhost:{settings.SITE_PORT}/">acme.localhost:{settings.SITE_PORT}</a>'
    assert link in response.content.decode()
    assert "org_acme" not in response.content.decode()


def test_the_organization_page_shows_its_domain_once(staff_client, acme):
    response = staff_client.get(f"{ORGANIZATIONS_URL}{acme.pk}/change/")

    assert strip_tags(response.content.decode()).count("acme.localhost") == 1


def test_the_membership_filter_leaves_out_the_public_site(staff_client, acme):
    response = staff_client.get(MEMBERSHIPS_URL)

    choices = [
        choice["display"]
        for choice in response.context["cl"].filter_specs[1].choices(response.context["cl"])
    ]
    assert "Acme Corp (acme)" in choices
    assert not any("public" in str(choice).lower() for choice in choices)


def test_a_users_page_lists_their_memberships(staff_client, acme, globex):
    user = make_user(email="two-orgs@test.example.com")
    membership_add(organization=acme, user=user, role=Role.MANAGER)
    membership_add(organization=globex, user=user, role=Role.MEMBER)

    response = staff_client.get(f"/admin/accounts/user/{user.pk}/change/")

    inline = next(
        formset
        for formset in response.context["inline_admin_formsets"]
        if formset.formset.model is Membership
    )
    assert {
        (form.instance.organization.slug, form.instance.role) for form in inline.formset.forms
    } == {
        ("acme", Role.MANAGER),
        ("globex", Role.MEMBER),
    }
    assert f'href="{ORGANIZATIONS_URL}{acme.pk}/change/"' in response.content.decode()


def test_view_site_opens_the_api_docs(staff_client):
    response = staff_client.get("/admin/")

    assert response.context["site_url"] == "/api/docs/"
