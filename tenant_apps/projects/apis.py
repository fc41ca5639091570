"""Project endpoints on organization hosts."""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from saas.api.pagination import Ordering
from shared_apps.organizations.permissions import (
    ActionPermissionsMixin,
    IsOrgAdmin,
    IsOrgManager,
    IsOrgMember,
    IsOrgMemberOutsideTrash,
    trash_requested,
)

from .filters import ProjectFilter
from .selectors import project_list, project_trash_list
from .serializers import ProjectSerializer
from .services import project_create, project_delete, project_restore, project_update


class ProjectViewSet(ActionPermissionsMixin, viewsets.ModelViewSet):
    """Projects of this organization. Members read; managers write; admins delete and restore.

    `?deleted=true` lists the trash (ADMIN and MANAGER); a trashed project is otherwise not
    found, except by `restore`.
    """

    serializer_class = ProjectSerializer
    lookup_value_regex = r"[0-9]+"
    filter_backends = [DjangoFilterBackend]
    filterset_class = ProjectFilter
    orderings = {"created_at": Ordering.field("created_at"), "name": Ordering.field("name")}
    default_ordering = "-created_at"
    action_permissions = {
        "list": [IsOrgMemberOutsideTrash],
        "retrieve": [IsOrgMember],
        "create": [IsOrgManager],
        "update": [IsOrgManager],
        "partial_update": [IsOrgManager],
        "destroy": [IsOrgAdmin],
        "restore": [IsOrgAdmin],
    }
    extra_error_responses = {
        "restore": {"409": "Another live project has this project's name: rename it first."}
    }

    def get_queryset(self):
        if self.action == "restore" or (self.action == "list" and trash_requested(self.request)):
            return project_trash_list()
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
        project = project_update(
            project=project, data=serializer.validated_data, actor=request.user
        )
        return Response(self.get_serializer(project).data)

    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    def destroy(self, request, pk=None):
        project_delete(project=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: ProjectSerializer})
    @action(detail=True, methods=["post"], filter_backends=[])
    def restore(self, request, pk=None):
        """Take a project out of the trash, with the tasks deleted with it (ADMIN)."""
        project = project_restore(project=self.get_object(), actor=request.user)
        # Read back like a detail (a 404 if deleted again since).
        return Response(self.get_serializer(get_object_or_404(project_list(), pk=project.pk)).data)
