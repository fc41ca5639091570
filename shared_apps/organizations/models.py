"""Organization (a tenant with its own schema), its Domain, Membership with a role,
Invitation (a membership offered by email, pending consent), and the pool of spare schemas
onboarding claims (SpareSchema, SchemaRecording)."""

import hashlib

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower, Now
from django.utils import timezone
from django_tenants.models import DomainMixin, TenantMixin

from .schema_pool import SPARE_NAME_PATTERN
from .slugs import SCHEMA_NAME_PATTERN, SLUG_MAX_LENGTH, SLUG_PATTERN, validate_slug


class Organization(TenantMixin):
    """A customer organization; its projects and tasks live in `schema_name`."""

    # The onboarding service provides the schema inside its own transaction (a spare from
    # the pool renamed, or one migrated there), so a failure anywhere rolls back row, schema
    # and domain together (TenantMixin.save() would commit the row first and clean up by
    # hand).
    auto_create_schema = False
    # Deactivate, never drop: data is kept until someone decides otherwise.
    auto_drop_schema = False

    name = models.CharField(max_length=150)
    slug = models.CharField(max_length=SLUG_MAX_LENGTH, unique=True, validators=[validate_slug])
    is_active = models.BooleanField(
        default=True, help_text="Inactive organizations' subdomains answer 404; data is kept."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Who created it through the API (POST /api/orgs/): MAX_ORGS_PER_USER counts these.
    # Empty for staff onboarding (admin, create_org), which is not limited.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )

    class Meta:
        ordering = ["slug"]
        constraints = [
            # The public tenant keeps schema "public"; every other schema is derived from the slug.
            models.CheckConstraint(
                condition=models.Q(slug__regex=SLUG_PATTERN),
                name="organizations_org_slug_format",
            ),
            models.CheckConstraint(
                condition=models.Q(schema_name="public")
                | models.Q(schema_name__regex=SCHEMA_NAME_PATTERN),
                name="organizations_org_schema_name_format",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.slug})"

    @property
    def is_public(self) -> bool:
        return self.schema_name == "public"

    @property
    def domain(self) -> str:
        return f"{self.slug}.{settings.BASE_DOMAIN}"


class Domain(DomainMixin):
    """A host name routed to an organization's schema."""

    class Meta:
        ordering = ["domain"]


class Role(models.TextChoices):
    """What a member may do inside an organization (enforced in permissions.py)."""

    ADMIN = "ADMIN", "Admin"
    MANAGER = "MANAGER", "Manager"
    MEMBER = "MEMBER", "Member"


class Membership(models.Model):
    """A user's role in one organization; the only link between users and organizations."""

    Role = Role

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True, db_default=Now())

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"],
                name="organizations_membership_unique_user_org",
                violation_error_message="This user is already a member of the organization.",
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values),
                name="organizations_membership_role_valid",
            ),
        ]
        indexes = [models.Index(fields=["organization", "role"], name="org_membership_org_role")]

    def __str__(self):
        return f"{self.user} is {self.role} of {self.organization.slug}"


class Invitation(models.Model):
    """An offer of membership sent to an email address; it becomes a membership only when the
    person accepts it. Only a hash of the emailed token is stored."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            # One open invitation per address and organization: inviting again refreshes it.
            models.UniqueConstraint(
                "organization",
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True),
                name="organizations_invitation_one_open_per_email",
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values),
                name="organizations_invitation_role_valid",
            ),
        ]
        indexes = [
            # "My pending invitations" (GET /api/auth/me/) looks them up by address.
            models.Index(
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True),
                name="org_invitation_open_email",
            ),
        ]

    def __str__(self):
        return f"{self.email} invited as {self.role} to {self.organization.slug}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_open(self) -> bool:
        """Not accepted and not expired: it can still be accepted."""
        return self.accepted_at is None and not self.is_expired

    @staticmethod
    def hash_token(token: str) -> str:
        """The stored form of an emailed token (the raw token is never stored)."""
        # surrogatepass: any string a client sends hashes (to a value no invitation has).
        return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class SpareSchema(models.Model):
    """A fully migrated, never-used schema waiting for onboarding to claim it (by renaming it
    to the new organization's schema, in the organization's own transaction)."""

    name = models.CharField(max_length=63, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(name__regex=SPARE_NAME_PATTERN),
                name="organizations_spare_schema_name_format",
            ),
        ]

    def __str__(self):
        return self.name


class SchemaRecording(models.Model):
    """What one fresh migration of a tenant schema executed (DDL and rows, parameters
    inlined), recorded once per migration state and replayed to build each spare."""

    # Names the migrations on disk, their source, Django's and PostgreSQL's versions.
    migration_key = models.CharField(max_length=64, unique=True)
    statements = models.JSONField()
    # schema_pool.state.schema_fingerprint() of the schema it was recorded from: every
    # replay must come out the same.
    fingerprint = models.CharField(max_length=32)
    # "app.name" of every migration a schema built from it has recorded.
    migrations = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{len(self.statements)} statements for {self.migration_key}"
