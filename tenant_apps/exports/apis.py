"""Export endpoints on organization hosts: request a CSV of tasks, follow it, download it."""

from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from saas.api.exceptions import ConflictError
from saas.api.pagination import Ordering
from saas.api.throttling import ExportRateThrottle, throttle_classes
from shared_apps.organizations.models import Role
from shared_apps.organizations.permissions import (
    ActionPermissionsMixin,
    IsOrgMember,
    request_role,
)

from .filters import EXPORT_REQUEST_SCHEMA
from .models import Export, ExportStatus
from .selectors import export_file, export_list
from .serializers import ExportRequestSerializer, ExportSerializer
from .services import export_create

NOT_READY = 'The export is {status}: download it once its status is "done".'
FAILED = "The export failed: there is nothing to download. Request a new one."
QUEUE_DOWN = "The job queue does not answer: nothing was created; retry after `Retry-After`."


@extend_schema_view(
    create=extend_schema(
        request={"application/json": EXPORT_REQUEST_SCHEMA},
        responses={202: ExportSerializer},
        description="Queue a CSV export of the tasks the task list's filters select (live "
        "tasks only). Any member; the export is visible to its creator and to ADMINs.",
    ),
    download=extend_schema(
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The CSV.")}
    ),
)
class ExportViewSet(
    ActionPermissionsMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """CSV exports of tasks. Any member may request one; an export is seen and downloaded by
    whoever requested it and by the organization's ADMINs, and for anyone else it does not
    exist (404). Exports are never edited or deleted through the API (405): the daily cleanup
    removes them after EXPORT_RETENTION_DAYS."""

    serializer_class = ExportSerializer
    lookup_value_regex = r"[0-9]+"
    # Each export reads every matching task: starting them is limited per user (`exports`).
    throttle_classes = throttle_classes(ExportRateThrottle)
    orderings = {"created_at": Ordering.field("created_at")}
    default_ordering = "-created_at"
    action_permissions = {
        "list": [IsOrgMember],
        "retrieve": [IsOrgMember],
        "create": [IsOrgMember],
        "download": [IsOrgMember],
    }
    extra_error_responses = {
        "create": {"503": QUEUE_DOWN},
        "download": {"409": "The export is not done (queued, running or failed)."},
    }

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator: no user
            return Export.objects.none()
        return export_list(
            user=self.request.user, everyone=request_role(self.request) == Role.ADMIN
        )

    def get_serializer_class(self):
        if self.action == "create":
            return ExportRequestSerializer
        return ExportSerializer

    def create(self, request):
        serializer = ExportRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        export = export_create(created_by=request.user, filters=serializer.validated_data)
        data = ExportSerializer(export, context={"request": request}).data
        location = request.build_absolute_uri(reverse("export-detail", kwargs={"pk": export.pk}))
        return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": location})

    def perform_content_negotiation(self, request, force=False):
        if self.action == "download":
            # The file goes out as it is (text/csv) whatever Accept says; only errors are
            # rendered, and they are JSON everywhere.
            return JSONRenderer(), JSONRenderer.media_type
        return super().perform_content_negotiation(request, force=force)

    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        """The export's CSV, once its status is `done` (409 before, or when it failed)."""
        export = self.get_object()
        if export.status == ExportStatus.FAILED:
            raise ConflictError(FAILED, code="export_failed")
        if export.status != ExportStatus.DONE:
            raise ConflictError(NOT_READY.format(status=export.status), code="export_not_ready")
        file = export_file(export=export)
        if file is None:  # done, yet its file is gone: say so as "not found"
            raise Http404
        filename = f"{request.tenant.slug}-tasks-{export.pk}.csv"
        return FileResponse(
            file, as_attachment=True, filename=filename, content_type="text/csv; charset=utf-8"
        )
