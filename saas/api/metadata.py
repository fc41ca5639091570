"""OPTIONS responses that describe only the writes the caller is allowed to make."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.metadata import SimpleMetadata
from rest_framework.request import clone_request


class ActionMetadata(SimpleMetadata):
    """DRF's SimpleMetadata, checking each method's permissions as the action it maps to.

    DRF checks them with `view.action` still "metadata", the OPTIONS action, so a viewset whose
    permissions depend on the action (a MEMBER may read but not PUT a task) advertised every
    write to everyone who may read. The serializer shown is also the one that action uses.
    """

    def determine_actions(self, request, view):
        action_map = getattr(view, "action_map", None)
        if action_map is None:  # a plain APIView: permissions do not depend on an action
            return super().determine_actions(request, view)
        metadata_action = view.action
        actions = {}
        try:
            for method in {"PUT", "POST"} & set(view.allowed_methods):
                view.action = action_map.get(method.lower())
                view.request = clone_request(request, method)
                try:
                    view.check_permissions(view.request)
                    if method == "PUT":
                        view.get_object()  # also checks object permissions
                except (exceptions.APIException, PermissionDenied, Http404):
                    continue
                finally:
                    view.request = request
                actions[method] = self.get_serializer_info(view.get_serializer())
        finally:
            view.action = metadata_action
        return actions
