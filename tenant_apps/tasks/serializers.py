"""Serializers for tasks: one shape to read, one to write."""

from rest_framework import serializers

from saas.api.fields import StrictCharField
from saas.api.messages import INVALID_DATE
from saas.api.values import ValuesSerializer
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
    """A task as returned by the API (in the trash, with when and by whom it was deleted)."""

    created_by = UserSummarySerializer(read_only=True)
    assignees = UserSummarySerializer(many=True, read_only=True)
    deleted_by = UserSummarySerializer(read_only=True, allow_null=True)

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
            "deleted_at",  # null outside the trash
            "deleted_by",
        )
        read_only_fields = fields


# The same output from `.values()` rows: the task list, detail and trash (tenant_apps.tasks.apis).
TASK_ROWS = ValuesSerializer(TaskSerializer)


class TaskWriteSerializer(serializers.Serializer):
    """What clients may set; `created_by`, `id` and timestamps are never taken from input."""

    project = WholeNumberPrimaryKeyField(queryset=Project.objects.all())
    title = StrictCharField(max_length=Task._meta.get_field("title").max_length)
    description = StrictCharField(
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


# --- Dashboard -------------------------------------------------------------------------------


NO_SUCH_PROJECT = "No live project with id {id} in this organization."


class DashboardQuerySerializer(serializers.Serializer):
    """The dashboard's query string (`?project=` empty means the whole organization)."""

    project = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        required=False,
        allow_null=True,
        help_text="Only this project's tasks (a live project's id).",
    )

    # Whether it names a live project is checked with the cache's version query
    # (tenant_apps.tasks.cache.current_version): one query, not two, on a cache hit.


def _counts(name: str, choices, what: str) -> type[serializers.Serializer]:
    """A serializer with one count per choice (every choice present, zero included)."""
    fields = {
        value: serializers.IntegerField(min_value=0, help_text=f"{what} {value}.")
        for value in choices.values
    }
    return type(name, (serializers.Serializer,), fields)


StatusCountsSerializer = _counts("StatusCountsSerializer", Status, "Tasks with status")
PriorityCountsSerializer = _counts("PriorityCountsSerializer", Priority, "Tasks with priority")


class DashboardProjectSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    by_status = StatusCountsSerializer()


class DashboardAssigneeSerializer(serializers.Serializer):
    user = UserSummarySerializer()
    open_tasks = serializers.IntegerField(min_value=1, help_text="Tasks not DONE assigned to them.")


class DashboardSerializer(serializers.Serializer):
    """Figures of the organization's live tasks (trashed ones never count)."""

    by_status = StatusCountsSerializer()
    by_priority = PriorityCountsSerializer()
    overdue = serializers.IntegerField(
        min_value=0, help_text="Open tasks (not DONE) due before today, in the server's TIME_ZONE."
    )
    due_next_7_days = serializers.IntegerField(
        min_value=0, help_text="Open tasks due today or in the six days after it."
    )
    projects = DashboardProjectSerializer(
        many=True, help_text="Every live project (only the one asked for with `?project=`)."
    )
    assignees = DashboardAssigneeSerializer(
        many=True,
        help_text="The 20 members with the most open tasks, most first (ties: lowest user id).",
    )
    generated_at = serializers.DateTimeField(
        help_text="When these figures were computed (older than now when served from the cache, "
        "which no write has happened since)."
    )
