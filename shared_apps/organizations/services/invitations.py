"""Writes for invitations: invite by email, resend, revoke, and accept (signed in, or with the
emailed token by someone without an account or password). Membership needs consent."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from shared_apps.accounts.emails import send_templated_email
from shared_apps.accounts.links import email_link, site_url
from shared_apps.accounts.models import User
from shared_apps.accounts.services import (
    check_new_password,
    clean_email,
    clean_full_name,
    lock_email,
    password_set,
    user_create,
)

from ..models import Invitation, Membership, Organization, Role
from ..signals import member_invited
from .memberships import INACTIVE_USER, lock_organization, membership_add

INVITEE_ALREADY_MEMBER = "This person is already a member of the organization."
INVITATION_NOT_VALID = (
    "This invitation is not valid: it was revoked, or a newer invitation replaced it."
)
INVITATION_USED = "This invitation was already accepted."
INVITATION_EXPIRED = "This invitation has expired: ask the organization's admins to resend it."
ORGANIZATION_INACTIVE = "This organization is no longer active."
ACCOUNT_PASSWORD_NEEDED = (
    "This address already has an account: enter its password (or reset the password first)."
)


def _issue_token(invitation: Invitation) -> str:
    """Give `invitation` a new token and expiry (the old token stops working); returns it raw."""
    token = secrets.token_urlsafe(32)
    invitation.token_hash = Invitation.hash_token(token)
    invitation.expires_at = timezone.now() + timedelta(hours=settings.INVITATION_TTL_HOURS)
    return token


def _send(invitation: Invitation, token: str) -> None:
    inviter = invitation.invited_by
    send_templated_email(
        to=invitation.email,
        template="organizations/emails/invitation",
        context={
            "invitation": invitation,
            "organization": invitation.organization,
            "inviter": inviter.get_full_name() if inviter else "The site's staff",
            "link": email_link("accept-invitation", token=token),
            "organization_url": site_url(invitation.organization.domain),
        },
    )


@transaction.atomic
def invitation_create(
    *, organization: Organization, email: str, role: str, invited_by: User | None
) -> Invitation:
    """Invite `email` to join with `role`, and email the link. The answer is the same whether
    or not the address has an account; inviting an address again renews its invitation."""
    email = clean_email(email)
    if role not in Role.values:
        raise ValidationError({"role": [f'"{role}" is not a valid role.']}, code="invalid")
    if organization.is_public:
        raise ValidationError("The public site has no members.", code="public")
    lock_organization(organization)  # serializes with accepts and membership changes
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise ValidationError({"email": [INVITEE_ALREADY_MEMBER]}, code="already_member")
    invitation = Invitation.objects.filter(
        organization=organization, email__iexact=email, accepted_at__isnull=True
    ).first() or Invitation(organization=organization, email=email)
    invitation.role = role
    invitation.invited_by = invited_by
    token = _issue_token(invitation)
    invitation.save()
    member_invited.send(
        sender=Invitation, organization=organization, invitation=invitation, actor=invited_by
    )
    _send(invitation, token)
    return invitation


@transaction.atomic
def invitation_resend(*, invitation: Invitation) -> Invitation:
    """Replace the invitation's token (the old link stops working), renew it and email it."""
    invitation = _relock(invitation)
    if invitation.accepted_at is not None:
        raise ValidationError(INVITATION_USED, code="used")
    token = _issue_token(invitation)
    invitation.save(update_fields=["token_hash", "expires_at"])
    _send(invitation, token)
    return invitation


def invitation_revoke(*, invitation: Invitation) -> None:
    """Withdraw an invitation; its link stops working."""
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).delete()


def _lock(**lookup) -> Invitation | None:
    """The invitation matching `lookup` as it is now, locked, or None.

    Its organization is locked first, then the invitation: the order that inviting (and
    every membership change) takes too, so an accept and a re-invite cannot deadlock.
    """
    organization_id = (
        Invitation.objects.filter(**lookup).values_list("organization_id", flat=True).first()
    )
    if organization_id is None:
        return None
    lock_organization(Organization(pk=organization_id))
    return (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("organization", "invited_by")
        .filter(**lookup)
        .first()
    )


def _relock(invitation: Invitation) -> Invitation:
    """The invitation as it is now, locked; gone (revoked meanwhile) is a clear 400."""
    current = _lock(pk=invitation.pk)
    if current is None:
        raise ValidationError(INVITATION_NOT_VALID, code="invalid")
    return current


def invitation_problem(invitation: Invitation | None) -> str | None:
    """Why `invitation` cannot be accepted now, as a message (None: it can)."""
    if invitation is None:
        return INVITATION_NOT_VALID
    if invitation.accepted_at is not None:
        return INVITATION_USED
    if invitation.is_expired:
        return INVITATION_EXPIRED
    if not invitation.organization.is_active:
        return ORGANIZATION_INACTIVE
    return None


def _accept(invitation: Invitation, user: User) -> Membership:
    """Turn a locked, open invitation into `user`'s membership with its role."""
    problem = invitation_problem(invitation)
    if problem:
        raise ValidationError(problem, code="not_acceptable")
    organization = invitation.organization
    membership = Membership.objects.filter(organization=organization, user=user).first()
    if membership is None:
        membership = membership_add(
            organization=organization, user=user, role=invitation.role, actor=user
        )
    # Already a member (staff added them meanwhile): the invitation is spent, the role stays.
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """A signed-in user accepts an invitation sent to their own address."""
    invitation = _relock(invitation)
    if invitation.email.lower() != user.email.lower():
        raise ValidationError(INVITATION_NOT_VALID, code="invalid")
    return _accept(invitation, user)


@transaction.atomic
def invitation_accept_with_token(
    *, token: str, password: str, full_name: str = ""
) -> tuple[Membership, User]:
    """Accept with the emailed token: the token proves the address, so this creates the
    account (verified), or gives a password to one that has none or was never verified
    (replacing whatever a stranger may have registered it with). An account that already
    has a verified password must give that password."""
    invitation = _lock(token_hash=Invitation.hash_token(token))
    problem = invitation_problem(invitation)
    if problem:
        raise ValidationError({"token": [problem]}, code="not_acceptable")
    full_name = clean_full_name(full_name)
    # Two invitations to one new address accepted at once: the second waits here, then
    # finds the account the first created (and must give its password).
    lock_email(invitation.email)
    user = User.objects.select_for_update().filter(email__iexact=invitation.email).first()
    if user is None:
        user = user_create(
            email=invitation.email, password=password, full_name=full_name, email_verified=True
        )
    elif not user.is_active:
        raise ValidationError({"email": [INACTIVE_USER]}, code="inactive")
    elif user.has_usable_password() and user.is_email_verified:
        if not user.check_password(password):
            raise ValidationError({"password": [ACCOUNT_PASSWORD_NEEDED]}, code="wrong_password")
    else:
        if full_name:
            user.full_name = full_name
            user.save(update_fields=["full_name"])
        check_new_password(password, user=user)
        password_set(user=user, new_password=password)
    return _accept(invitation, user), user
