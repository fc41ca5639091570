"""Reads for users."""

from .models import User, normalize_email


def user_has_password_login(*, email: str) -> bool:
    """True if an active, verified account with a password of its own uses this address."""
    user = User.objects.filter(email__iexact=normalize_email(email), is_active=True).first()
    return user is not None and user.is_email_verified and user.has_usable_password()
