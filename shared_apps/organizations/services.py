"""Writes for organizations: onboarding (row + schema + domain + first admin) and status."""

import logging
import zlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django_tenants.utils import schema_exists, tenant_context

from shared_apps.accounts.models import User
from shared_apps.accounts.services import user_get_or_create

from .models import Domain, Membership, Organization, Role
from .slugs import schema_name_for, validate_slug

logger = logging.getLogger(__name__)

SLUG_TAKEN = "This subdomain is already taken."
NAME_REQUIRED = "Give the organization a name."
NAME_MAX_LENGTH = Organization._meta.get_field("name").max_length
ALREADY_MEMBER = "This user is already a member of the organization."
LAST_ADMIN = "An organization needs at least one ADMIN: promote someone else first."
NO_SUCH_USER = "No user has this email. They need to sign up first."
INACTIVE_USER = "This account is deactivated."
MOVE_MEMBERSHIP = (
    "A membership cannot move to another user or organization: remove it and add a new one."
)


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
def organization_create(*, name: str, slug: str, admin: User) -> Organization:
    """Provision an organization: row, schema with every tenant table, domain, first ADMIN.

    All of it happens in one transaction (PostgreSQL DDL is transactional): if any step
    fails, no row, schema, domain or membership is left behind.
    """
    name = _validate_name(name)
    if not isinstance(slug, str):
        raise ValidationError({"slug": ["Choose a subdomain."]}, code="required")
    _lock_slug(slug)
    schema_name = organization_slug_check(slug=slug)
    if not admin.is_active:
        raise ValidationError("An inactive user cannot administer an organization.")

    organization = Organization(name=name, slug=slug, schema_name=schema_name)
    try:
        with transaction.atomic():
            organization.save()
    except IntegrityError as exc:  # lost a race that bypassed the lock (e.g. raw inserts)
        raise ValidationError({"slug": [SLUG_TAKEN]}, code="unique") from exc
    organization.create_schema(check_if_exists=False, verbosity=0)
    Domain.objects.create(domain=organization.domain, tenant=organization, is_primary=True)
    Membership.objects.create(user=admin, organization=organization, role=Role.ADMIN)
    logger.info("Provisioned organization %s in schema %s", slug, schema_name)
    return organization


@transaction.atomic
def organization_onboard(
    *, name: str, slug: str, admin_email: str
) -> tuple[Organization, User, bool]:
    """Onboard from the admin or the command line: find or create the first admin by email.

    Returns (organization, admin user, whether the user was created).
    """
    # The organization's own problems are reported before the email's (a user created here
    # would be rolled back with the transaction anyway); organization_create re-checks under
    # the slug lock.
    _validate_name(name)
    organization_slug_check(slug=slug)
    try:
        admin, created = user_get_or_create(email=admin_email)
    except ValidationError as exc:
        raise ValidationError({"admin_email": exc.message_dict.get("email", exc.messages)}) from exc
    if not admin.is_active:
        raise ValidationError({"admin_email": [INACTIVE_USER]}, code="inactive")
    organization = organization_create(name=name, slug=slug, admin=admin)
    return organization, admin, created


def organization_set_active(*, organization: Organization, is_active: bool) -> Organization:
    """Take an organization's subdomain offline (or back online); its schema is kept."""
    if organization.is_public:
        raise ValidationError("The public site cannot be deactivated.")
    organization.is_active = is_active
    organization.save(update_fields=["is_active"])
    return organization


def site_url(host: str) -> str:
    """The base URL of `host` as a person would type it (scheme and port from settings)."""
    port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
    return f"{settings.SITE_SCHEME}://{host}{port}/"


def organization_url(organization: Organization) -> str:
    """The organization's base URL, e.g. http://acme.localhost:8000/."""
    return site_url(organization.domain)


# --- Memberships --------------------------------------------------------------------------


def _lock_organization(organization: Organization) -> None:
    """Serialize membership changes per organization, so two concurrent demotions cannot
    both see "another ADMIN remains" and leave none."""
    Organization.objects.select_for_update().filter(pk=organization.pk).exists()


def _relock(membership: Membership) -> Membership:
    """The membership as it is now, locked; DoesNotExist (a 404) if someone removed it."""
    return (
        Membership.objects.select_for_update().select_related("organization").get(pk=membership.pk)
    )


def is_last_admin(membership: Membership) -> bool:
    """True if `membership` is the only ADMIN membership of its organization."""
    others = Membership.objects.filter(
        organization_id=membership.organization_id, role=Role.ADMIN
    ).exclude(pk=membership.pk)
    return membership.role == Role.ADMIN and not others.exists()


def _ensure_admin_remains(membership: Membership) -> None:
    if is_last_admin(membership):
        raise ValidationError(LAST_ADMIN, code="last_admin")


@transaction.atomic
def membership_create(*, organization: Organization, email: str, role: str) -> Membership:
    """Add an existing user (by email, any case) to the organization with `role`."""
    user = User.objects.filter(email__iexact=(email or "").strip()).first()
    if user is None or not user.is_active:
        raise ValidationError({"email": [NO_SUCH_USER]}, code="not_found")
    try:
        return membership_add(organization=organization, user=user, role=role)
    except ValidationError as exc:
        # Callers name the user by email, so that is where "already a member" belongs.
        messages = exc.message_dict
        raise ValidationError(
            {"email" if k == "user" else k: v for k, v in messages.items()}
        ) from exc


@transaction.atomic
def membership_add(*, organization: Organization, user: User, role: str) -> Membership:
    """Make `user` a member of `organization` with `role`."""
    if role not in Role.values:
        raise ValidationError({"role": [f'"{role}" is not a valid role.']}, code="invalid")
    if not user.is_active:
        raise ValidationError({"user": [INACTIVE_USER]}, code="inactive")
    if organization.is_public:
        raise ValidationError("The public site has no members.", code="public")
    _lock_organization(organization)
    if Membership.objects.filter(organization=organization, user=user).exists():
        raise ValidationError({"user": [ALREADY_MEMBER]}, code="unique")
    return Membership.objects.create(organization=organization, user=user, role=role)


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str) -> Membership:
    """Change a member's role; the last ADMIN cannot be demoted."""
    if role not in Role.values:
        raise ValidationError({"role": [f'"{role}" is not a valid role.']}, code="invalid")
    _lock_organization(membership.organization)
    membership = _relock(membership)
    if role != Role.ADMIN:
        _ensure_admin_remains(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_delete(*, membership: Membership) -> None:
    """Remove a member (or let them leave); the last ADMIN cannot go.

    Their task assignments in this organization end with the membership (assignees must be
    members); tasks they created keep them as creator, since the user row stays.
    """
    from tenant_apps.tasks.services import task_unassign_user  # tenant app, used in its schema

    organization = membership.organization
    _lock_organization(organization)
    # Waits for task writes that just checked this member (they hold a KEY SHARE lock on
    # the row), so the unassignment below also sees the assignments they add.
    membership = _relock(membership)
    _ensure_admin_remains(membership)
    with tenant_context(organization):
        task_unassign_user(user_id=membership.user_id)
    membership.delete()
