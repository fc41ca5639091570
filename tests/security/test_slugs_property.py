"""Slugs and schema names, property-based (hypothesis): arbitrary strings (unicode, quotes,
`;`, very long, look-alike characters) through slug validation, self-service onboarding and the
admin's onboarding form. A slug outside the rule never creates anything, nothing is ever a
500. And two staff onboarding one slug at the same instant through the admin get one
organization and one form error."""

import re
import threading
import uuid

import pytest
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_exists
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from knox.models import AuthToken

from shared_apps.accounts.models import User
from shared_apps.organizations.models import Domain, Membership, Organization
from shared_apps.organizations.slugs import (
    RESERVED_SLUGS,
    SCHEMA_NAME_PATTERN,
    schema_name_for,
    validate_slug,
)
from tests.factories import client_for, make_user, users_delete

# The rule, stated here on its own: 3-40 of a-z, 0-9 and "-", a letter first, no "-" last,
# no "--", not reserved, no pg- prefix (PostgreSQL's).
RULE = re.compile(r"[a-z](?!.*--)[a-z0-9-]{1,38}[a-z0-9]\Z")
ADD_URL = "/admin/organizations/organization/add/"

# Characters that look like slug characters, or that matter to SQL, shells and URLs.
LOOKALIKES = "аеорсхіјѕԁ" + "ａｂｃ０１－" + "ıİſK" + "‐‑–—" + "\u200b\u00ad\u2060"
SPECIALS = "'\";\\/.:_ %\x00\n\t@#?&=+*$"
slug_like = st.text(
    alphabet=st.sampled_from("abcxyz0189-" + LOOKALIKES + SPECIALS + "ABC"), max_size=45
)
any_text = st.text(max_size=80)
very_long = st.text(alphabet="abc-", min_size=41, max_size=300)
candidates = st.one_of(slug_like, any_text, very_long)

FAST = settings(max_examples=300, deadline=None, database=None, derandomize=True)
# Each valid slug builds a schema (about a second): few examples, most of them invalid.
SLOW = settings(
    max_examples=25,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def follows_the_rule(slug: str) -> bool:
    return (
        RULE.match(slug) is not None
        and slug not in RESERVED_SLUGS
        and not slug.startswith(("pg-", "pg_"))
    )


def is_taken(slug: str) -> bool:
    # PostgreSQL text cannot hold NUL: such a slug is no organization's.
    return "\x00" not in slug and Organization.objects.filter(slug=slug).exists()


def organization_schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'org\\_%'")
        return {name for (name,) in cursor.fetchall()}


@FAST
@given(candidates)
@example("acme-corp")
@example("аcme")  # a Cyrillic а
@example("pg-admin")
@example("ab")
@example("a" * 40)
@example("a" * 41)
def test_validation_accepts_exactly_the_rule_and_derives_a_safe_schema_name(slug):
    try:
        validate_slug(slug)
        accepted = True
    except ValidationError as error:
        accepted = False
        assert error.messages and all(error.messages)

    assert accepted == follows_the_rule(slug), slug
    if accepted:
        schema = schema_name_for(slug)
        assert schema == "org_" + slug.replace("-", "_")
        assert re.fullmatch(SCHEMA_NAME_PATTERN, schema)
        assert len(schema) <= 63


@pytest.mark.django_db
@SLOW
@given(slug=candidates)
@example(slug="sec-prop-api")  # valid: created once, then taken
@example(slug="sec-prop-api")
@example(slug="public")
@example(slug="sec'; DROP SCHEMA public; --")
def test_self_service_onboarding_creates_exactly_what_the_rule_allows(slug):
    founder = make_user()
    before = (Organization.objects.count(), organization_schemas())
    taken = is_taken(slug)

    response = client_for(founder).post(
        "/api/orgs/", {"name": "Property Co", "slug": slug}, format="json"
    )

    if follows_the_rule(slug) and not taken:
        assert response.status_code == 201, (slug, response.content)
        organization = Organization.objects.get(slug=slug)
        assert organization.schema_name in organization_schemas() - before[1]
    else:
        assert response.status_code == 400, (slug, response.content)
        assert list(response.json()) == ["slug"]
        assert (Organization.objects.count(), organization_schemas()) == before


@pytest.mark.django_db
@SLOW
@given(slug=candidates)
@example(slug="sec-prop-admin")
@example(slug="sec-prop-admin")
@example(slug="x\x00y")
@example(slug="ѕec-prop")  # a Cyrillic ѕ
def test_admin_onboarding_creates_exactly_what_the_rule_allows(staff_client, slug):
    before = (Organization.objects.count(), organization_schemas())
    taken = is_taken(slug)

    response = staff_client.post(
        ADD_URL, {"name": "Property Co", "slug": slug, "admin_email": "prop@test.example.com"}
    )

    if follows_the_rule(slug) and not taken:
        assert response.status_code == 302, (slug, response.content[:500])
        assert Organization.objects.get(slug=slug).schema_name in organization_schemas()
    else:
        assert response.status_code == 200, (slug, response.status_code)
        assert "slug" in response.context["adminform"].form.errors
        assert (Organization.objects.count(), organization_schemas()) == before


# --- Two staff, one slug, the same instant --------------------------------------------------


def _drop(slug: str) -> None:
    for organization in Organization.objects.filter(slug=slug):
        Membership.objects.filter(organization=organization).delete()
        Domain.objects.filter(tenant=organization).delete()
        connection.set_schema_to_public()
        organization.delete(force_drop=True)


def _delete_users(*users: User) -> None:
    ids = [user.pk for user in users]
    LogEntry.objects.filter(user_id__in=ids).delete()
    AuthToken.objects.filter(user_id__in=ids).delete()
    Membership.objects.filter(user_id__in=ids).delete()
    users_delete("id = ANY(%s)", [ids])


def _onboard_at_once(django_db_blocker, slugs: list[str], tag: str) -> list:
    """Staff users, one per slug, each submit the admin's onboarding form with a new first
    admin at the same instant (real commits, separate connections); their responses. Every
    organization, schema and user made is removed afterwards."""
    with django_db_blocker.unblock():
        staff = [
            User.objects.create_superuser(f"{tag}-staff{i}@test.example.com")
            for i in range(len(slugs))
        ]
        start = threading.Barrier(len(staff))
        responses: list = [None] * len(staff)
        errors: list = []

        def onboard(index: int) -> None:
            browser = Client(HTTP_HOST="localhost")
            browser.force_login(staff[index])
            try:
                start.wait(timeout=10)
                responses[index] = browser.post(
                    ADD_URL,
                    {
                        "name": f"Race {index}",
                        "slug": slugs[index],
                        "admin_email": f"{tag}-admin{index}@test.example.com",
                    },
                )
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=onboard, args=(i,)) for i in range(len(staff))]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            assert not any(thread.is_alive() for thread in threads)
            assert not errors, errors
            return [
                (
                    response,
                    Organization.objects.filter(slug=slug).count(),
                    schema_exists(f"org_{slug.replace('-', '_')}"),
                )
                for response, slug in zip(responses, slugs, strict=True)
            ]
        finally:
            for slug in set(slugs):
                _drop(slug)
            admins = User.objects.filter(email__startswith=f"{tag}-admin")
            _delete_users(*staff, *admins)


def test_two_staff_onboarding_one_slug_at_once_get_one_organization_and_one_form_error(
    django_db_setup, django_db_blocker
):
    tag = f"sec-race-{uuid.uuid4().hex[:6]}"
    results = _onboard_at_once(django_db_blocker, [tag, tag], tag)

    responses = [response for response, _, _ in results]
    assert sorted(response.status_code for response in responses) == [200, 302]
    loser = next(response for response in responses if response.status_code == 200)
    assert loser.context["adminform"].form.errors["slug"] == ["This subdomain is already taken."]
    assert [(count, schema) for _, count, schema in results] == [(1, True), (1, True)]


def test_two_staff_onboarding_different_organizations_at_once_both_succeed(
    django_db_setup, django_db_blocker
):
    """Each creates its first admin's user, then migrates a schema whose foreign keys lock the
    users table: at once, they used to deadlock, and one was a 500."""
    tag = f"sec-pair-{uuid.uuid4().hex[:6]}"
    results = _onboard_at_once(django_db_blocker, [f"{tag}-a", f"{tag}-b"], tag)

    assert [response.status_code for response, _, _ in results] == [302, 302]
    assert [(count, schema) for _, count, schema in results] == [(1, True), (1, True)]
