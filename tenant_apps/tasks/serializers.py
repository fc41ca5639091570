"""Serializers for tasks: one shape to read, one to write."""

from rest_framework import serializers

from saas.api.messages import INVALID_DATE
from shared_apps.accounts.serializers import UserSummarySerializer
from tenant_apps.projects.models import DESCRIPTION_MAX_LENGTH, Project

from .models import Priority, Status, Task

MAX_ASSIGNEES = 50


class WholeNumberPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A primary key that must be a whole number: `1.5` is an error, not project 1."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not (
            isinstance(data, int) or (isinstance(data, str) and data.isdigit())
        ):
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(data)


class TaskSerializer(serializers.ModelSerializer):
    """A task as returned by the API."""

    created_by = UserSummarySerializer(read_only=True)
    assignees = UserSummarySerializer(many=True, read_only=True)

    class Meta:
        model = Task
        fields = (
            "id",
            "project",
            "title",
            "description",
            "status",
            "priority",
            "due_date",
            "created_by",
            "assignees",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class TaskWriteSerializer(serializers.Serializer):
    """What clients may set; `created_by`, `id` and timestamps are never taken from input."""

    project = WholeNumberPrimaryKeyField(queryset=Project.objects.all())
    title = serializers.CharField(max_length=Task._meta.get_field("title").max_length)
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=DESCRIPTION_MAX_LENGTH
    )
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    due_date = serializers.DateField(
        required=False, allow_null=True, error_messages={"invalid": INVALID_DATE}
    )
    assignee_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=MAX_ASSIGNEES,
    )

    def validate_title(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("This field may not be blank.")
        return value


class TaskStatusSerializer(serializers.Serializer):
    """The only change a MEMBER may make: the status of a task assigned to them."""

    status = serializers.ChoiceField(choices=Status.choices)
