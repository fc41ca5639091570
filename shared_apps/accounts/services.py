"""Writes for users: sign-up with email verification, passwords, API tokens."""

import logging
import zlib

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from .emails import send_already_registered_email, send_password_email, send_verification_email
from .models import User, normalize_email
from .tokens import email_verification_token, password_token, user_from_link

logger = logging.getLogger(__name__)

EMAIL_TAKEN = "A user with this email already exists."
EMAIL_MAX_LENGTH = User._meta.get_field("email").max_length
FULL_NAME_MAX_LENGTH = User._meta.get_field("full_name").max_length
INVALID_LINK = (
    "This link is not valid: it was already used, has expired, or a newer one replaced it. "
    "Ask for a new one."
)
WRONG_PASSWORD = "Your current password is not correct."
SIGN_UP_PASSWORD = (
    "Enter the password chosen at sign-up. If you did not sign up, ignore the link: the "
    "account cannot be used until it is confirmed."
)


def clean_email(email: str) -> str:
    """Normalize and validate an address; ValidationError keyed by `email`."""
    email = normalize_email(email)
    if len(email) > EMAIL_MAX_LENGTH:
        raise ValidationError({"email": [f"Use at most {EMAIL_MAX_LENGTH} characters."]})
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": exc.messages}) from exc
    return email


def clean_full_name(full_name: str) -> str:
    full_name = (full_name or "").strip()
    if len(full_name) > FULL_NAME_MAX_LENGTH:
        raise ValidationError({"full_name": [f"Use at most {FULL_NAME_MAX_LENGTH} characters."]})
    return full_name


def check_new_password(password: str, *, user: User, field: str = "password") -> None:
    """Django's password validators; ValidationError keyed by `field`."""
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from exc


def lock_email(email: str) -> None:
    """Serialize, until this transaction ends, the writes that create or claim the account of
    `email` (a row lock cannot guard a row that does not exist yet)."""
    key = zlib.crc32(f"user-email:{normalize_email(email)}".encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def user_create(
    *, email: str, password: str | None, full_name: str = "", email_verified: bool = False
) -> User:
    """Create an active user; `password=None` leaves an unusable password (set it later).

    `email_verified` is for callers that know the person reads this mailbox (they followed a
    link sent to it) or that staff vouch for; the API's login needs it.
    """
    email = clean_email(email)
    full_name = clean_full_name(full_name)
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": [EMAIL_TAKEN]}, code="unique")
    user = User(email=email, full_name=full_name)
    if email_verified:
        user.email_verified_at = timezone.now()
    if password is not None:
        check_new_password(password, user=user)
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


@transaction.atomic
def user_register(*, email: str, password: str, full_name: str = "") -> None:
    """Sign-up. The caller learns nothing about whether the address has an account: a new
    address gets a verification link, a registered one an email saying so.

    A sign-up never changes an existing account (verified or not, with a password or not):
    its owner is emailed a set-password link instead. And an account counts only once its
    verification link is confirmed *with the password it was signed up with*, so someone
    who registers another person's address can neither log in nor get the owner to
    activate the stranger's password by clicking the link.
    """
    email = clean_email(email)
    full_name = clean_full_name(full_name)
    # Validate before looking the address up, so errors never depend on who has an account.
    check_new_password(password, user=User(email=email, full_name=full_name))
    existing = User.objects.filter(email__iexact=email).first()
    if existing is None:
        user = User(email=email, full_name=full_name)
        user.set_password(password)
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:
            # A concurrent sign-up of this address won; its verification email covers it.
            logger.info("Concurrent sign-up for one address; the first one stands")
            return
        send_verification_email(user)
    else:
        # Hash anyway, so the answer takes as long as for a new address (the timing must not
        # tell who has an account either), as Django's ModelBackend does for unknown users.
        User().set_password(password)
        if existing.is_active:
            send_already_registered_email(existing)
        else:
            logger.info("Sign-up ignored: account %s is deactivated", existing.pk)


def user_mark_email_verified(*, user: User) -> None:
    """Record that the person follows links sent to this address (idempotent)."""
    if user.email_verified_at is None:
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])


@transaction.atomic
def email_verify(*, uidb64: str, token: str, password: str) -> User:
    """Verify an address from its emailed link and the password it was signed up with (the
    link alone proves the mailbox, not who chose the password); the link then stops working."""
    user = user_from_link(uidb64, token, email_verification_token)
    if user is None:
        raise ValidationError({"token": [INVALID_LINK]}, code="invalid_link")
    if not user.check_password(password):
        raise ValidationError({"password": [SIGN_UP_PASSWORD]}, code="wrong_password")
    user_mark_email_verified(user=user)
    return user


def password_reset_request(*, email: str) -> None:
    """Email a set-password link to the active account with this address, if any (the
    caller's answer never says which). Accounts without a password get the same link."""
    email = clean_email(email)
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    if user is None:
        logger.info("Password reset asked for an address without an active account")
        return
    send_password_email(user)


def password_link_send(*, user: User, reason: str = "") -> None:
    """Staff and onboarding: email `user` a single-use link to set a password."""
    if not user.is_active:
        raise ValidationError("This account is deactivated.", code="inactive")
    send_password_email(user, reason=reason)


@transaction.atomic
def password_set_from_link(*, uidb64: str, token: str, new_password: str) -> User:
    """Set a password from an emailed link. Following the link proves the address, and every
    API token of the account ends (whoever held one no longer knows the password)."""
    user = user_from_link(uidb64, token, password_token)
    if user is None:
        raise ValidationError({"token": [INVALID_LINK]}, code="invalid_link")
    check_new_password(new_password, user=user, field="new_password")
    password_set(user=user, new_password=new_password)
    return user


@transaction.atomic
def password_set(*, user: User, new_password: str) -> None:
    """Set a validated password for the holder of an emailed link: the link proves the
    address, and every API token of the account ends."""
    user.set_password(new_password)
    user.save(update_fields=["password"])
    user_mark_email_verified(user=user)
    tokens_revoke_all(user=user)


@transaction.atomic
def password_change(*, user: User, current_password: str, new_password: str, keep=None) -> None:
    """Change a password knowing the current one; every other API token of the user ends
    (`keep`: the token of the request making the change)."""
    if not user.check_password(current_password):
        raise ValidationError({"current_password": [WRONG_PASSWORD]}, code="wrong_password")
    check_new_password(new_password, user=user, field="new_password")
    user.set_password(new_password)
    user.save(update_fields=["password"])
    tokens_revoke_all(user=user, keep=keep)


def token_create(*, user: User):
    """Issue a new API token for `user`: returns (stored token row, raw token).

    Only a hash of the token is stored; the raw value is shown once, to the caller. The
    user's expired tokens are deleted here (authentication only checks the one it is given).
    """
    from knox.models import AuthToken

    AuthToken.objects.filter(user=user, expiry__lt=timezone.now()).delete()
    return AuthToken.objects.create(user=user)


def token_revoke(*, token) -> None:
    """Revoke one token (logout)."""
    token.delete()


def tokens_revoke_all(*, user: User, keep=None) -> int:
    """Revoke every API token of `user` except `keep`; returns how many ended."""
    from knox.models import AuthToken

    tokens = AuthToken.objects.filter(user=user)
    if keep is not None:
        tokens = tokens.exclude(pk=keep.pk)
    deleted, _ = tokens.delete()
    return deleted
