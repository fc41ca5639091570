"""Expiring, single-use tokens for emailed account links, made by Django's token generator."""

from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from .models import User


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    """Valid until the address is verified or the password changes (a password set from a
    reset link voids an unused verification link)."""

    key_salt = "shared_apps.accounts.tokens.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user, timestamp):
        return f"{super()._make_hash_value(user, timestamp)}{user.email_verified_at}"


email_verification_token = EmailVerificationTokenGenerator()
# Setting or resetting a password: the hash covers the password (and last login), so a link
# works once; both expire after PASSWORD_RESET_TIMEOUT seconds.
password_token = default_token_generator


def uid_for(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def user_from_link(uidb64: str, token: str, generator: PasswordResetTokenGenerator) -> User | None:
    """The active user a link's (uid, token) pair was made for, or None if it is not valid."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError, UnicodeError):
        return None
    if not 0 < pk < 2**63:
        return None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if user is None or not generator.check_token(user, token):
        return None
    return user
