"""Role permissions, in one place. Every tenant endpoint requires membership of request.tenant:
a token is valid on every subdomain, so membership, not authentication, is the gate."""

from rest_framework.permissions import BasePermission, IsAuthenticated

from .models import Role
from .selectors import membership_role

MANAGING_ROLES = frozenset({Role.ADMIN, Role.MANAGER})

NOT_A_MEMBER = "You are not a member of this organization."
MANAGERS_ONLY = "Only ADMIN and MANAGER members may do this."
ADMINS_ONLY = "Only ADMIN members may do this."
OWN_MEMBERSHIP_ONLY = "Other members may remove only their own membership (leave)."
TRASH_MANAGERS_ONLY = "Only ADMIN and MANAGER members may list the trash (`deleted=true`)."

# `?deleted=true` on a list: the trash instead of the live rows.
TRASH_PARAMETER = "deleted"


def request_organization(request):
    """The organization the request's host routes to, or None on the base domain."""
    organization = getattr(request, "tenant", None)
    if organization is None or getattr(organization, "is_public", True):
        return None
    return organization


def request_role_remember(request, role: Role | None) -> None:
    """Record the user's role in the request's organization, read along with its token
    (shared_apps.organizations.authentication), so `request_role` asks no more."""
    request._organization_role = role


def request_role(request) -> Role | None:
    """The user's role in the request's organization (None: not a member), looked up once."""
    if not hasattr(request, "_organization_role"):
        organization = request_organization(request)
        role = (
            None
            if organization is None
            else membership_role(user=request.user, organization=organization)
        )
        request_role_remember(request, role)
    return request._organization_role


def is_manager(request) -> bool:
    """ADMINs and MANAGERs manage the organization's work (any field of any task)."""
    return request_role(request) in MANAGING_ROLES


class IsOrgMember(BasePermission):
    """Allows any member (ADMIN, MANAGER, MEMBER) of the request's organization."""

    message = NOT_A_MEMBER

    def has_permission(self, request, view):
        return request_role(request) is not None


class IsOrgManager(BasePermission):
    """Allows ADMIN and MANAGER members of the request's organization."""

    message = MANAGERS_ONLY

    def has_permission(self, request, view):
        return is_manager(request)


class IsOrgAdmin(BasePermission):
    """Allows ADMIN members of the request's organization."""

    message = ADMINS_ONLY

    def has_permission(self, request, view):
        return request_role(request) == Role.ADMIN


def trash_requested(request) -> bool:
    """Whether a list request asks for the trash (`?deleted=true`); any other value is the
    live list, and the list's filters reject values other than true/false."""
    return request.query_params.get(TRASH_PARAMETER) == "true"


class IsOrgMemberOutsideTrash(BasePermission):
    """Allows any member to list live rows, and only ADMIN and MANAGER members the trash."""

    message = TRASH_MANAGERS_ONLY

    def has_permission(self, request, view):
        if trash_requested(request):
            return is_manager(request)
        return request_role(request) is not None


class IsOwnMembership(IsOrgMember):
    """Allows members to act on their own membership (leaving the organization)."""

    message = OWN_MEMBERSHIP_ONLY

    def has_object_permission(self, request, view, obj):
        return obj.user_id == request.user.id


class ActionPermissionsMixin:
    """Views list `action_permissions = {action: [permission classes, ...]}`; the classes of
    one action are OR-ed, and authentication and membership are always required first.

    A refusal names what each class of the action allows. An action missing from the policy
    (one added without a rule) is for ADMINs only; a method the view has no handler for is a
    405 for everyone (saas.api.exceptions)."""

    action_permissions: dict[str, list[type[BasePermission]]] = {}

    def get_permissions(self):
        # OPTIONS (DRF's "metadata" action) only describes the endpoint: any member may ask.
        policy = {"metadata": [IsOrgMember], **self.action_permissions}
        classes = policy.get(self.action, [IsOrgAdmin])
        combined = classes[0]
        for cls in classes[1:]:
            combined = combined | cls
        permission = combined()
        # DRF's `|` keeps no message of its own: say what each alternative allows.
        permission.message = (
            " ".join(getattr(cls, "message", "") for cls in classes).strip() or None
        )
        return [IsAuthenticated(), IsOrgMember(), permission]
