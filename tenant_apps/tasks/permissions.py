"""Task rules on top of the organization's roles (shared_apps.organizations.permissions)."""

from rest_framework.permissions import BasePermission

from shared_apps.organizations.permissions import request_role

STATUS_ONLY = "MEMBERs may change only `status`, and only on tasks assigned to them."


class IsAssigneeChangingStatusOnly(BasePermission):
    """Allows a MEMBER to PATCH only `status`, and only on tasks assigned to them."""

    message = STATUS_ONLY

    def has_permission(self, request, view):
        return (
            request.method == "PATCH"
            and request_role(request) is not None
            and isinstance(request.data, dict)
            and set(request.data) == {"status"}
        )

    def has_object_permission(self, request, view, obj):
        return any(user.id == request.user.id for user in obj.assignees.all())
