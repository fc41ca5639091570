"""Project endpoints on organization hosts."""

from rest_framework import status, viewsets
from rest_framework.response import Response

from saas.api.pagination import Ordering
from shared_apps.organizations.permissions import (
    ActionPermissionsMixin,
    IsOrgAdmin,
    IsOrgManager,
    IsOrgMember,
)

from .selectors import project_list
from .serializers import ProjectSerializer
from .services import project_create, project_delete, project_update


class ProjectViewSet(ActionPermissionsMixin, viewsets.ModelViewSet):
    """Projects of this organization. Members read; managers write; admins delete."""

    serializer_class = ProjectSerializer
    lookup_value_regex = r"[0-9]+"
    orderings = {"created_at": Ordering.field("created_at"), "name": Ordering.field("name")}
    default_ordering = "-created_at"
    action_permissions = {
        "list": [IsOrgMember],
        "retrieve": [IsOrgMember],
        "create": [IsOrgManager],
        "update": [IsOrgManager],
        "partial_update": [IsOrgManager],
        "destroy": [IsOrgAdmin],
    }

    def get_queryset(self):
        return project_list()

    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project = project_create(**serializer.validated_data, created_by=request.user)
        return Response(self.get_serializer(project).data, status=status.HTTP_201_CREATED)

    def update(self, request, pk=None, partial=False):
        project = self.get_object()
        serializer = self.get_serializer(project, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        project = project_update(project=project, data=serializer.validated_data)
        return Response(self.get_serializer(project).data)

    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    def destroy(self, request, pk=None):
        project_delete(project=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
