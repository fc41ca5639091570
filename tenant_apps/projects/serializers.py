"""Serializers for projects."""

from django.db import models
from rest_framework import serializers

from saas.api.fields import StrictCharField
from shared_apps.accounts.serializers import UserSummarySerializer

from .models import DESCRIPTION_MAX_LENGTH, Project


class ProjectSerializer(serializers.ModelSerializer):
    """`{id, name, description, created_by, created_at, updated_at, deleted_at, deleted_by}`;
    only name and description are writable; deleted_* are null outside the trash."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
    }

    created_by = UserSummarySerializer(read_only=True)
    deleted_by = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Project
        fields = (
            "id",
            "name",
            "description",
            "created_by",
            "created_at",
            "updated_at",
            "deleted_at",
            "deleted_by",
        )
        read_only_fields = (
            "id",
            "created_by",
            "created_at",
            "updated_at",
            "deleted_at",
            "deleted_by",
        )
        # Uniqueness is decided by the database (see services), not a racy pre-check.
        validators: list = []
        extra_kwargs = {
            "name": {"validators": []},
            "description": {"max_length": DESCRIPTION_MAX_LENGTH},
        }

    def validate_name(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("This field may not be blank.")
        return value
