"""Writes for memberships: add, change role, remove; the last-ADMIN rule, under a lock."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404

from shared_apps.accounts.models import User

from ..models import Membership, Organization, Role
from ..signals import membership_added, membership_removed, membership_role_changed

ALREADY_MEMBER = "This user is already a member of the organization."
LAST_ADMIN = "An organization needs at least one ADMIN: promote someone else first."
INACTIVE_USER = "This account is deactivated."
MEMBERSHIP_GONE = "This member is no longer in the organization."
MOVE_MEMBERSHIP = (
    "A membership cannot move to another user or organization: remove it and add a new one."
)


def lock_organization(organization: Organization) -> None:
    """Serialize membership changes per organization, so two concurrent demotions cannot
    both see "another ADMIN remains" and leave none."""
    Organization.objects.select_for_update().filter(pk=organization.pk).exists()


def _relock(membership: Membership) -> Membership:
    """The membership as it is now, locked; a 404 if a concurrent request removed it."""
    found = (
        Membership.objects.select_for_update()
        .select_related("organization")
        .filter(pk=membership.pk)
        .first()
    )
    if found is None:
        raise Http404(MEMBERSHIP_GONE)
    return found


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
def membership_add(
    *, organization: Organization, user: User, role: str, actor: User | None = None
) -> Membership:
    """Make `user` a member of `organization` with `role` (`actor`: who did it)."""
    if role not in Role.values:
        raise ValidationError({"role": [f'"{role}" is not a valid role.']}, code="invalid")
    if not user.is_active:
        raise ValidationError({"user": [INACTIVE_USER]}, code="inactive")
    if organization.is_public:
        raise ValidationError("The public site has no members.", code="public")
    lock_organization(organization)
    if Membership.objects.filter(organization=organization, user=user).exists():
        raise ValidationError({"user": [ALREADY_MEMBER]}, code="unique")
    membership = Membership.objects.create(organization=organization, user=user, role=role)
    membership_added.send(
        sender=Membership, organization=organization, membership=membership, actor=actor
    )
    return membership


@transaction.atomic
def membership_change_role(
    *, membership: Membership, role: str, actor: User | None = None
) -> Membership:
    """Change a member's role; the last ADMIN cannot be demoted."""
    if role not in Role.values:
        raise ValidationError({"role": [f'"{role}" is not a valid role.']}, code="invalid")
    lock_organization(membership.organization)
    membership = _relock(membership)
    if role != Role.ADMIN:
        _ensure_admin_remains(membership)
    old_role = membership.role
    if role == old_role:
        return membership
    membership.role = role
    membership.save(update_fields=["role"])
    membership_role_changed.send(
        sender=Membership,
        organization=membership.organization,
        membership=membership,
        actor=actor,
        old_role=old_role,
    )
    return membership


@transaction.atomic
def membership_delete(*, membership: Membership, actor: User | None = None) -> None:
    """Remove a member (or let them leave); the last ADMIN cannot go.

    Receivers of `membership_removed` run in this transaction: the tasks app ends the
    member's assignments there (assignees must be members); tasks they created keep them as
    creator, since the user row stays.
    """
    organization = membership.organization
    lock_organization(organization)
    # Waits for task writes that just checked this member (they hold a KEY SHARE lock on
    # the row), so the receivers also see the assignments those writes add.
    membership = _relock(membership)
    _ensure_admin_remains(membership)
    membership_removed.send(
        sender=Membership, organization=organization, membership=membership, actor=actor
    )
    membership.delete()
