"""Membership events, sent inside the change's transaction by the services.

Apps that keep data about members in organization schemas (the tenant apps: assignments,
the activity log) subscribe to these, so the public schema's code never imports them. A
receiver that raises rolls the whole change back. Every signal has `organization` and
`actor` (the user who made the change; None for staff commands and system jobs).
"""

from django.dispatch import Signal

# membership: the new Membership.
membership_added = Signal()
# membership: the Membership with its new role; old_role: the role before.
membership_role_changed = Signal()
# membership: the Membership being removed (still in the database while receivers run).
membership_removed = Signal()
# invitation: the Invitation created or renewed.
member_invited = Signal()
