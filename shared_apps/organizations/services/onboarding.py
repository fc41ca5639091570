"""Writes for organizations: onboarding (row + schema + domain + first admin) and status."""

import logging
import zlib
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django_tenants.utils import schema_exists

from shared_apps.accounts.links import site_url
from shared_apps.accounts.models import User
from shared_apps.accounts.services import password_link_send, user_get_or_create

from ..jobs import schema_pool_nudge
from ..models import Domain, Membership, Organization, Role
from ..schema_pool.pool import schema_analyze, spare_claim
from ..signals import membership_added
from ..slugs import schema_name_for, validate_slug
from .memberships import INACTIVE_USER

logger = logging.getLogger(__name__)

SLUG_TAKEN = "This subdomain is already taken."
TOO_MANY_ORGANIZATIONS = (
    "You have already created {limit} organizations, the most one account may create. "
    "Ask us to create more for you."
)
NAME_REQUIRED = "Give the organization a name."
NAME_MAX_LENGTH = Organization._meta.get_field("name").max_length


def _validate_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [NAME_REQUIRED]}, code="required")
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(
            {"name": [f"Use at most {NAME_MAX_LENGTH} characters."]}, code="max_length"
        )
    return name


def _lock_slug(slug: str) -> None:
    """Serialize onboarding of one slug until this transaction ends.

    The unique constraints alone would let two requests both pass the "is it free?" check,
    and the loser would only fail after building a whole schema.
    """
    key = zlib.crc32(f"organization-slug:{slug}".encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _lock_creator(user: User) -> None:
    """Serialize self-service creations by one user until this transaction ends, so two
    concurrent requests cannot both pass the MAX_ORGS_PER_USER check (the slug lock only
    serializes requests for one slug). An advisory lock, not FOR UPDATE on the user's row,
    which would also hold up writes referencing the user (task assignments) meanwhile."""
    key = zlib.crc32(f"organization-creator:{user.pk}".encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def organization_onboarding_lock() -> None:
    """Serialize staff onboarding (admin, create_org) until this transaction ends.

    It creates the first admin's user before the schema, and migrating a schema creates
    foreign keys to the users table, which locks it (SHARE ROW EXCLUSIVE) against the user
    the other onboarding inserted: two at once deadlocked, and one of them was a 500. The
    admin takes it while validating its form (the check then stays true until the save),
    so the second of two onboardings of one slug gets a form error, not a failing save.
    """
    key = zlib.crc32(b"organization-onboarding")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def organization_slug_check(*, slug: str) -> str:
    """Validate `slug` and that it is free; return its schema name. Raises ValidationError."""
    try:
        validate_slug(slug)
        schema_name = schema_name_for(slug)
    except ValidationError as exc:
        raise ValidationError({"slug": exc.messages}) from exc
    if Organization.objects.filter(slug=slug).exists() or schema_exists(schema_name):
        raise ValidationError({"slug": [SLUG_TAKEN]}, code="unique")
    return schema_name


@transaction.atomic
def organization_create(
    *,
    name: str,
    slug: str,
    admin: User,
    actor: User | None = None,
    created_by: User | None = None,
) -> Organization:
    """Provision an organization: row, schema with every tenant table, domain, first ADMIN.

    The schema is a spare from the pool, renamed (milliseconds, however many migrations
    there are, and no lock on the users table, which creating foreign keys to it takes);
    when the pool has no current spare, a new schema is migrated here (the slow way).

    All of it happens in one transaction (PostgreSQL DDL is transactional): if any step
    fails, no row, schema, domain or membership is left behind, and a claimed spare is back
    in the pool.
    """
    name = _validate_name(name)
    if not isinstance(slug, str):
        raise ValidationError({"slug": ["Choose a subdomain."]}, code="required")
    _lock_slug(slug)
    schema_name = organization_slug_check(slug=slug)
    if not admin.is_active:
        raise ValidationError("An inactive user cannot administer an organization.")

    organization = Organization(
        name=name, slug=slug, schema_name=schema_name, created_by=created_by
    )
    try:
        with transaction.atomic():
            organization.save()
    except IntegrityError as exc:  # lost a race that bypassed the lock (e.g. raw inserts)
        raise ValidationError({"slug": [SLUG_TAKEN]}, code="unique") from exc
    spare = spare_claim(schema_name=schema_name)
    if spare is None:
        try:
            organization.create_schema(check_if_exists=False, verbosity=0)
        finally:
            # django-tenants switches back to public only after the last migration: one that
            # fails would leave the connection on the rolled-back schema.
            connection.set_schema_to_public()
        schema_analyze(schema_name)
    Domain.objects.create(domain=organization.domain, tenant=organization, is_primary=True)
    membership = Membership.objects.create(user=admin, organization=organization, role=Role.ADMIN)
    # The new schema's apps record their first member (in this same transaction).
    membership_added.send(
        sender=Membership, organization=organization, membership=membership, actor=actor
    )
    schema_pool_nudge()
    logger.info(
        "Provisioned organization %s in schema %s (%s)",
        slug,
        schema_name,
        f"spare {spare}" if spare else "migrated",
    )
    return organization


@transaction.atomic
def organization_create_self_service(*, name: str, slug: str, user: User) -> Organization:
    """POST /api/orgs/: a signed-in user creates an organization and becomes its ADMIN.

    Each organization costs a schema and its catalogue rows, so one user may create at most
    MAX_ORGS_PER_USER of them (deactivated ones included: their schema is kept); past that,
    a ValidationError. Staff onboarding (organization_onboard) is not limited.
    """
    _lock_creator(user)
    limit = settings.MAX_ORGS_PER_USER
    if Organization.objects.filter(created_by=user).count() >= limit:
        raise ValidationError(TOO_MANY_ORGANIZATIONS.format(limit=limit), code="limit")
    return organization_create(name=name, slug=slug, admin=user, actor=user, created_by=user)


class Onboarded(NamedTuple):
    """What staff onboarding did, for the admin and the command to report."""

    organization: Organization
    admin: User
    user_created: bool
    password_link_sent: bool


@transaction.atomic
def organization_onboard(
    *, name: str, slug: str, admin_email: str, actor: User | None = None
) -> Onboarded:
    """Onboard from the admin or the command line (trusted: staff vouch for the first admin,
    who becomes ADMIN directly). A first admin without a usable password is emailed a
    single-use link to set one, so they can start with no staff help."""
    organization_onboarding_lock()
    # The organization's own problems are reported before the email's (a user created here
    # would be rolled back with the transaction anyway); organization_create re-checks under
    # the slug lock.
    _validate_name(name)
    organization_slug_check(slug=slug)
    # Before the user is created, like the self-service path holds it before the schema.
    _lock_slug(slug)
    try:
        admin, created = user_get_or_create(email=admin_email)
    except ValidationError as exc:
        raise ValidationError({"admin_email": exc.message_dict.get("email", exc.messages)}) from exc
    if not admin.is_active:
        raise ValidationError({"admin_email": [INACTIVE_USER]}, code="inactive")
    organization = organization_create(name=name, slug=slug, admin=admin, actor=actor)
    # Without both a password and a verified address the first admin could not log in.
    link_sent = not (admin.has_usable_password() and admin.is_email_verified)
    if link_sent:
        password_link_send(
            user=admin,
            reason=f"You are the first admin of {organization.name} ({organization_url(organization)}).",
        )
    return Onboarded(organization, admin, created, link_sent)


def organization_set_active(*, organization: Organization, is_active: bool) -> Organization:
    """Take an organization's subdomain offline (or back online); its schema is kept."""
    if organization.is_public:
        raise ValidationError("The public site cannot be deactivated.")
    organization.is_active = is_active
    organization.save(update_fields=["is_active"])
    return organization


def organization_url(organization: Organization) -> str:
    """The organization's base URL, e.g. http://acme.localhost:8000/."""
    return site_url(organization.domain)
