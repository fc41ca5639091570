"""Serializers for exports: the request (the task list's filters) and the export."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from shared_apps.accounts.serializers import UserSummarySerializer

from .filters import export_filters_clean
from .models import Export, ExportStatus


class ExportRequestSerializer(serializers.Serializer):
    """The task list's filters (`export_filters_clean` decides, with the list's FilterSet;
    the OpenAPI body is `EXPORT_REQUEST_SCHEMA`). The fields describe the body to OPTIONS."""

    project = serializers.IntegerField(required=False, min_value=1)
    status = serializers.CharField(required=False, help_text="Comma-separated.")
    priority = serializers.CharField(required=False, help_text="Comma-separated.")
    assignee = serializers.CharField(required=False, help_text='A user id, or "me".')
    created_by = serializers.IntegerField(required=False, min_value=1)
    due_before = serializers.DateField(required=False)
    due_after = serializers.DateField(required=False)
    overdue = serializers.BooleanField(required=False)
    search = serializers.CharField(required=False, max_length=200)

    def to_internal_value(self, data):
        try:
            return export_filters_clean(data, user=self.context["request"].user)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from None


class ExportProgressSerializer(serializers.Serializer):
    rows_written = serializers.IntegerField(help_text="Rows in the file so far.")
    rows_total = serializers.IntegerField(
        allow_null=True,
        help_text="Tasks to write, counted when the job starts (null before); once done, "
        "the rows written.",
    )


class ExportSerializer(serializers.ModelSerializer):
    """An export: its status, progress and, once done, where to download it."""

    created_by = UserSummarySerializer(read_only=True)
    progress = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = (
            "id",
            "status",
            "progress",
            "filters",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "error",
            "download_url",
        )
        read_only_fields = fields

    @extend_schema_field(ExportProgressSerializer)
    def get_progress(self, export: Export) -> dict:
        return {"rows_written": export.rows_written, "rows_total": export.rows_total}

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_download_url(self, export: Export) -> str | None:
        """The CSV's URL once the export is done (null before)."""
        if export.status != ExportStatus.DONE:
            return None
        path = reverse("export-download", kwargs={"pk": export.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path
