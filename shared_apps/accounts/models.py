"""User model: global across organizations, logs in with an email address."""

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower, Upper
from django.utils import timezone


def normalize_email(email: str) -> str:
    """Emails are stored lower-cased and stripped, so lookups and uniqueness agree."""
    return (email or "").strip().lower()


class UserManager(BaseUserManager):
    """Creates users keyed by email; used by createsuperuser and the services."""

    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        # Staff create superusers by hand (createsuperuser): the address is theirs.
        extra_fields.setdefault("email_verified_at", timezone.now())
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        if extra_fields["is_staff"] is not True or extra_fields["is_superuser"] is not True:
            raise ValueError("A superuser needs is_staff=True and is_superuser=True.")
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, username):
        # Login is case-insensitive, matching the unique constraint on lower(email).
        return self.get(email__iexact=normalize_email(username))


class User(AbstractUser):
    """A person; belongs to organizations only through memberships.

    Users are deactivated, never deleted: their rows are referenced from every
    organization schema they ever worked in.
    """

    username = None
    first_name = None
    last_name = None
    email = models.EmailField("email address", max_length=254)
    full_name = models.CharField(max_length=150, blank=True)
    # Set when the person proved they read this mailbox (a verification, invitation or
    # set-password link); the API's login refuses accounts without it.
    email_verified_at = models.DateTimeField(null=True, blank=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="accounts_user_email_ci_unique",
                violation_error_message="A user with this email already exists.",
            ),
        ]
        indexes = [
            # `email__iexact` (login, sign-up, invitations) compiles to UPPER(email) = UPPER(%s),
            # which the lower(email) unique index cannot serve: without this, every lookup
            # reads the whole users table.
            models.Index(Upper("email"), name="accounts_user_email_upper"),
        ]

    def __str__(self):
        return self.email

    @property
    def is_email_verified(self) -> bool:
        return self.email_verified_at is not None

    def get_full_name(self):
        return self.full_name or self.email

    def get_short_name(self):
        return self.full_name or self.email
