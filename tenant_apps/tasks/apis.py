"""Task endpoints on organization hosts."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from saas.api.filter_backends import DjangoFilterBackendSkippingAbsent
from saas.api.pagination import Ordering
from saas.api.renderers import FastJSONRenderMixin
from shared_apps.organizations.permissions import (
    ActionPermissionsMixin,
    IsOrgManager,
    IsOrgMember,
    IsOrgMemberOutsideTrash,
    is_manager,
    trash_requested,
)
from tenant_apps.activity.apis import ACTIVITY_DEFAULT_ORDERING, ACTIVITY_ORDERINGS
from tenant_apps.activity.models import TargetType
from tenant_apps.activity.selectors import activity_of
from tenant_apps.activity.serializers import ACTIVITY_ROWS, ActivitySerializer

from .cache import NoSuchProject, dashboard_read
from .filters import TaskFilter
from .models import DUE_DATE_SORT_ASC, DUE_DATE_SORT_DESC
from .permissions import IsAssigneeChangingStatusOnly
from .selectors import task_list, task_lookup, task_trash_list
from .serializers import (
    NO_SUCH_PROJECT,
    TASK_ROWS,
    DashboardQuerySerializer,
    DashboardSerializer,
    TaskSerializer,
    TaskStatusSerializer,
    TaskWriteSerializer,
)
from .services import task_create, task_delete, task_restore, task_update


@extend_schema_view(
    create=extend_schema(request=TaskWriteSerializer, responses={201: TaskSerializer}),
    update=extend_schema(request=TaskWriteSerializer, responses={200: TaskSerializer}),
    partial_update=extend_schema(request=TaskWriteSerializer, responses={200: TaskSerializer}),
)
class TaskViewSet(FastJSONRenderMixin, ActionPermissionsMixin, viewsets.ModelViewSet):
    """Tasks of this organization. Members read and move their own tasks; managers write.

    `?deleted=true` lists the trash (ADMIN and MANAGER; the other filters still apply); a
    trashed task is otherwise not found, except by `restore` and, for ADMINs and MANAGERs,
    by `activity` (its history stays readable to those who can see the trash).
    """

    # (Not in the docstring, which is the operations' OpenAPI description.) Reads (list,
    # retrieve, activity) build TaskSerializer's output from `.values()` rows and render it
    # with orjson (saas.api.values, saas.api.renderers); the serializer still describes them
    # in the schema and serves writes. tests/tenant_apps/tasks/test_read_fast_path.py holds
    # the two to the same bytes.

    serializer_class = TaskSerializer
    lookup_value_regex = r"[0-9]+"
    filter_backends = [DjangoFilterBackendSkippingAbsent]
    filterset_class = TaskFilter
    # TaskFilter.filter_queryset restates only the bounds it was given: with no filter in the
    # query string the rows are the view's (tests/tenant_apps/tasks/test_read_fast_path.py).
    filterset_unchanged_without_parameters = True
    orderings = {
        "created_at": Ordering.field("created_at"),
        "priority": Ordering.field("priority_rank"),  # severity, not alphabetical
        # Tasks without a due date come last in both directions.
        "due_date": Ordering(asc=DUE_DATE_SORT_ASC, desc=DUE_DATE_SORT_DESC),
    }
    default_ordering = "-created_at"
    action_permissions = {
        "list": [IsOrgMemberOutsideTrash],
        "retrieve": [IsOrgMember],
        "create": [IsOrgManager],
        "update": [IsOrgManager],
        "partial_update": [IsOrgManager, IsAssigneeChangingStatusOnly],
        "destroy": [IsOrgManager],
        "restore": [IsOrgManager],
        "activity": [IsOrgMember],
    }

    def get_queryset(self):
        if self.action == "restore" or (self.action == "list" and trash_requested(self.request)):
            return task_trash_list()
        if self.action == "activity":
            # Those who may see the trash may read a trashed task's history too.
            return task_lookup(include_trash=is_manager(self.request))
        return task_list()

    def get_serializer_class(self):
        # What OPTIONS describes for PUT/POST (ActionMetadata sets the action).
        if self.action in ("create", "update", "partial_update"):
            return TaskWriteSerializer
        if self.action == "activity":
            return ActivitySerializer
        return TaskSerializer

    def list(self, request):
        page = self.paginate_queryset(TASK_ROWS.values(self.filter_queryset(self.get_queryset())))
        return self.get_paginated_response(TASK_ROWS.to_representation(page))

    def retrieve(self, request, pk=None):
        # DRF's get_object() over rows: the same filters and lookup; the object permissions
        # of `retrieve` (none beyond membership) read no attribute of the task.
        queryset = TASK_ROWS.values(self.filter_queryset(self.get_queryset()))
        row = get_object_or_404(queryset, pk=pk)
        self.check_object_permissions(request, row)
        return Response(TASK_ROWS.to_representation([row])[0])

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
        task = task_update(
            organization=request.tenant,
            task=task,
            data=serializer.validated_data,
            actor=request.user,
        )
        return self._respond(task)

    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    def destroy(self, request, pk=None):
        task_delete(task=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"], filter_backends=[])
    def restore(self, request, pk=None):
        """Take a task out of the trash (ADMIN, MANAGER); not while its project is there."""
        task = task_restore(task=self.get_object(), actor=request.user)
        return self._respond(task)

    @extend_schema(responses={200: ActivitySerializer(many=True)})
    @action(
        detail=True,
        methods=["get"],
        filter_backends=[],
        orderings=ACTIVITY_ORDERINGS,
        default_ordering=ACTIVITY_DEFAULT_ORDERING,
    )
    def activity(self, request, pk=None):
        """The task's history, newest first (every member; a trashed task: ADMIN, MANAGER)."""
        task = self.get_object()
        entries = activity_of(target_type=TargetType.TASK, target_id=task.pk)
        page = self.paginate_queryset(ACTIVITY_ROWS.values(entries))
        return self.get_paginated_response(ACTIVITY_ROWS.to_representation(page))


X_CACHE = OpenApiParameter(
    "X-Cache",
    location=OpenApiParameter.HEADER,
    response=[200],
    enum=["HIT", "MISS"],
    description="HIT: served from the cache (no write since it was computed); MISS: computed "
    "from the database now (also whenever the cache is unavailable).",
)


class DashboardApi(FastJSONRenderMixin, APIView):
    """Task figures of the organization for every member: by status and priority, overdue,
    due soon, per project, and the members with the most open tasks.

    Cached until the next write that changes a figure (see tenant_apps/tasks/cache.py);
    computed from running counts PostgreSQL keeps, not from the tasks (selectors.py)."""

    permission_classes = [IsAuthenticated, IsOrgMember]

    @extend_schema(
        operation_id="dashboard_retrieve",
        parameters=[DashboardQuerySerializer, X_CACHE],
        responses={200: DashboardSerializer},
    )
    def get(self, request):
        query = DashboardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        project_id = query.validated_data.get("project")
        try:
            data, hit = dashboard_read(
                project_id=project_id, render=lambda figures: DashboardSerializer(figures).data
            )
        except NoSuchProject:
            raise ValidationError({"project": [NO_SUCH_PROJECT.format(id=project_id)]}) from None
        response = Response(data)
        response["X-Cache"] = "HIT" if hit else "MISS"
        return response
