"""Serializers for projects."""

from rest_framework import serializers

from shared_apps.accounts.serializers import UserSummarySerializer

from .models import DESCRIPTION_MAX_LENGTH, Project


class ProjectSerializer(serializers.ModelSerializer):
    """`{id, name, description, created_by, created_at, updated_at}`; created_by is read-only."""

    created_by = UserSummarySerializer(read_only=True)

    class Meta:
        model = Project
        fields = ("id", "name", "description", "created_by", "created_at", "updated_at")
        read_only_fields = ("id", "created_by", "created_at", "updated_at")
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
