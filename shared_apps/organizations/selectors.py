"""Reads for organizations and memberships."""

from django.db.models import QuerySet

from shared_apps.accounts.models import User

from .models import Membership, Organization, Role


def organization_list_for_user(*, user: User) -> QuerySet[Membership]:
    """The user's memberships in active organizations, with the organization loaded."""
    return (
        Membership.objects.filter(user=user, organization__is_active=True)
        .select_related("organization")
        .order_by("organization__slug")
    )


def membership_role(*, user: User, organization: Organization) -> Role | None:
    """The user's role in the organization, or None if not a member."""
    if not getattr(user, "is_authenticated", False) or organization is None:
        return None
    role = (
        Membership.objects.filter(user=user, organization=organization)
        .values_list("role", flat=True)
        .first()
    )
    return Role(role) if role else None


def membership_list(*, organization: Organization) -> QuerySet[Membership]:
    """Members of one organization, with their users loaded."""
    return Membership.objects.filter(organization=organization).select_related(
        "user", "organization"
    )
