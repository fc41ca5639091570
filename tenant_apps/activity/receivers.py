"""Membership changes (sent by shared_apps.organizations.signals inside the change's
transaction) become entries in the organization's own schema, in that same transaction."""

from django.dispatch import receiver
from django_tenants.utils import tenant_context

from shared_apps.organizations.signals import (
    member_invited,
    membership_added,
    membership_removed,
    membership_role_changed,
)

from .models import TargetType, Verb
from .services import activity_record


def _record_member(organization, *, actor, verb, target_id, label, changes) -> None:
    # The membership lives in public; its history lives with the organization's other data.
    with tenant_context(organization):
        activity_record(
            actor=actor,
            verb=verb,
            target_type=TargetType.MEMBER,
            target_id=target_id,
            target_label=label,
            changes=changes,
            # No figure depends on a membership itself. This also keeps the counter row
            # unlocked until the tasks app's receiver has ended a removed member's
            # assignments (waiting, if need be, for task writes that hold those rows).
            bump_counter=False,
        )


@receiver(membership_added, dispatch_uid="activity.member_added")
def record_member_added(sender, *, organization, membership, actor, **kwargs):
    """An invitation accepted, staff adding a member, or the first ADMIN at onboarding."""
    _record_member(
        organization,
        actor=actor,
        verb=Verb.MEMBER_ADDED,
        target_id=membership.user_id,
        label=membership.user.email,
        changes={"role": [None, membership.role]},
    )


@receiver(membership_role_changed, dispatch_uid="activity.member_role_changed")
def record_member_role_changed(sender, *, organization, membership, actor, old_role, **kwargs):
    _record_member(
        organization,
        actor=actor,
        verb=Verb.MEMBER_ROLE_CHANGED,
        target_id=membership.user_id,
        label=membership.user.email,
        changes={"role": [old_role, membership.role]},
    )


@receiver(membership_removed, dispatch_uid="activity.member_removed")
def record_member_removed(sender, *, organization, membership, actor, **kwargs):
    """Removed by an ADMIN or staff, or left (then the actor is the member)."""
    _record_member(
        organization,
        actor=actor,
        verb=Verb.MEMBER_REMOVED,
        target_id=membership.user_id,
        label=membership.user.email,
        changes={"role": [membership.role, None]},
    )


@receiver(member_invited, dispatch_uid="activity.member_invited")
def record_member_invited(sender, *, organization, invitation, actor, **kwargs):
    """The invitee may have no account yet: the target is the invitation, named by email."""
    _record_member(
        organization,
        actor=actor,
        verb=Verb.MEMBER_INVITED,
        target_id=invitation.pk,
        label=invitation.email,
        changes={"email": [None, invitation.email], "role": [None, invitation.role]},
    )
