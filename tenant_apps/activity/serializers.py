"""How an activity entry appears in the API."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from saas.api.values import ValuesSerializer
from shared_apps.accounts.serializers import UserSummarySerializer

from .models import Activity

CHANGES_SCHEMA = {
    "type": "object",
    "description": (
        "`{field: [old, new]}`: what the change did to each field (null where there was or is "
        "no value). Assignments: `assignee` with `{id, email}`; members: `role`; long text is "
        "cut to 200 characters."
    ),
    "additionalProperties": {"type": "array", "items": {}, "minItems": 2, "maxItems": 2},
}


@extend_schema_field(CHANGES_SCHEMA)
class ChangesField(serializers.JSONField):
    pass


class ActivitySerializer(serializers.ModelSerializer):
    """`{id, actor, verb, target_type, target_id, target_label, changes, created_at}`; `actor`
    is null for system jobs. Members are targets by user id (invitations by invitation id)."""

    actor = UserSummarySerializer(read_only=True, allow_null=True)
    changes = ChangesField(read_only=True)

    class Meta:
        model = Activity
        fields = (
            "id",
            "actor",
            "verb",
            "target_type",
            "target_id",
            "target_label",
            "changes",
            "created_at",
        )
        read_only_fields = fields


# The same output from `.values()` rows: the activity lists (ActivityViewSet, a task's history).
ACTIVITY_ROWS = ValuesSerializer(ActivitySerializer)
