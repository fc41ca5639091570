"""Task endpoints on organization hosts."""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from saas.api.pagination import Ordering
from shared_apps.organizations.permissions import (
    ActionPermissionsMixin,
    IsOrgManager,
    IsOrgMember,
    is_manager,
)

from .filters import TaskFilter
from .models import DUE_DATE_SORT_ASC, DUE_DATE_SORT_DESC
from .permissions import IsAssigneeChangingStatusOnly
from .selectors import task_list
from .serializers import TaskSerializer, TaskStatusSerializer, TaskWriteSerializer
from .services import task_create, task_delete, task_update


@extend_schema_view(
    create=extend_schema(request=TaskWriteSerializer, responses={201: TaskSerializer}),
    update=extend_schema(request=TaskWriteSerializer, responses={200: TaskSerializer}),
    partial_update=extend_schema(request=TaskWriteSerializer, responses={200: TaskSerializer}),
)
class TaskViewSet(ActionPermissionsMixin, viewsets.ModelViewSet):
    """Tasks of this organization. Members read and move their own tasks; managers write."""

    serializer_class = TaskSerializer
    lookup_value_regex = r"[0-9]+"
    filter_backends = [DjangoFilterBackend]
    filterset_class = TaskFilter
    orderings = {
        "created_at": Ordering.field("created_at"),
        "priority": Ordering.field("priority_rank"),  # severity, not alphabetical
        # Tasks without a due date come last in both directions.
        "due_date": Ordering(asc=DUE_DATE_SORT_ASC, desc=DUE_DATE_SORT_DESC),
    }
    default_ordering = "-created_at"
    action_permissions = {
        "list": [IsOrgMember],
        "retrieve": [IsOrgMember],
        "create": [IsOrgManager],
        "update": [IsOrgManager],
        "partial_update": [IsOrgManager, IsAssigneeChangingStatusOnly],
        "destroy": [IsOrgManager],
    }

    def get_queryset(self):
        return task_list()

    def get_serializer_class(self):
        # What OPTIONS describes for PUT/POST (ActionMetadata sets the action).
        if self.action in ("create", "update", "partial_update"):
            return TaskWriteSerializer
        return TaskSerializer

    def _respond(self, task, code=status.HTTP_200_OK):
        # Read back with creator and assignees loaded; a 404 if deleted since the write.
        return Response(
            TaskSerializer(get_object_or_404(task_list(), pk=task.pk)).data, status=code
        )

    def create(self, request):
        serializer = TaskWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = task_create(
            organization=request.tenant, created_by=request.user, **serializer.validated_data
        )
        return self._respond(task, status.HTTP_201_CREATED)

    def update(self, request, pk=None, partial=False):
        task = self.get_object()
        # Permissions let a MEMBER through only for a status-only PATCH on their own task.
        serializer_class = TaskWriteSerializer if is_manager(request) else TaskStatusSerializer
        serializer = serializer_class(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        task = task_update(organization=request.tenant, task=task, data=serializer.validated_data)
        return self._respond(task)

    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    def destroy(self, request, pk=None):
        task_delete(task=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
