"""Writes for users."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from .models import User, normalize_email

EMAIL_TAKEN = "A user with this email already exists."
EMAIL_MAX_LENGTH = User._meta.get_field("email").max_length
FULL_NAME_MAX_LENGTH = User._meta.get_field("full_name").max_length


def user_create(*, email: str, password: str | None, full_name: str = "") -> User:
    """Create an active user; `password=None` leaves an unusable password (set it later)."""
    email = normalize_email(email)
    full_name = (full_name or "").strip()
    if len(email) > EMAIL_MAX_LENGTH:
        raise ValidationError({"email": [f"Use at most {EMAIL_MAX_LENGTH} characters."]})
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": exc.messages}) from exc
    if len(full_name) > FULL_NAME_MAX_LENGTH:
        raise ValidationError({"full_name": [f"Use at most {FULL_NAME_MAX_LENGTH} characters."]})
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": [EMAIL_TAKEN]}, code="unique")
    user = User(email=email, full_name=full_name)
    if password is not None:
        try:
            validate_password(password, user=user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    try:
        # Savepoint: a concurrent sign-up with the same email loses on the database's
        # unique index on lower(email), and must not poison an outer transaction.
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise ValidationError({"email": [EMAIL_TAKEN]}, code="unique") from exc
    return user


def user_get_or_create(*, email: str, full_name: str = "") -> tuple[User, bool]:
    """Return the user with this email (any case), creating one without a password if needed."""
    existing = User.objects.filter(email__iexact=normalize_email(email)).first()
    if existing is not None:
        return existing, False
    return user_create(email=email, password=None, full_name=full_name), True


def token_create(*, user: User):
    """Issue a new API token for `user`: returns (stored token row, raw token).

    Only a hash of the token is stored; the raw value is shown once, to the caller.
    """
    from knox.models import AuthToken

    return AuthToken.objects.create(user=user)


def token_revoke(*, token) -> None:
    """Revoke one token (logout)."""
    token.delete()
