"""The tasks app's part in organization events (sent by shared_apps.organizations.signals)."""

from django.dispatch import receiver
from django_tenants.utils import tenant_context

from shared_apps.organizations.signals import membership_removed

from .services import task_unassign_user


@receiver(membership_removed, dispatch_uid="tasks.unassign_removed_member")
def unassign_removed_member(sender, *, organization, membership, actor, **kwargs):
    """Assignees must be members: a removed member's assignments end with the membership."""
    with tenant_context(organization):
        task_unassign_user(user_id=membership.user_id, actor=actor)
