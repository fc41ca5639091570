"""Serializers for organizations and memberships."""

from rest_framework import serializers

from shared_apps.accounts.models import User
from shared_apps.accounts.serializers import UserSummarySerializer

from .models import Membership, Role


class OrganizationCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=150)
    slug = serializers.CharField(max_length=64, help_text="Subdomain: 3-40 of a-z, 0-9, '-'.")


class MyOrganizationSerializer(serializers.Serializer):
    """An organization as seen by one of its members: `{slug, name, domain, role}`."""

    slug = serializers.CharField(source="organization.slug", read_only=True)
    name = serializers.CharField(source="organization.name", read_only=True)
    domain = serializers.CharField(source="organization.domain", read_only=True)
    role = serializers.ChoiceField(choices=Role.choices, read_only=True)


class MemberSerializer(serializers.ModelSerializer):
    """A membership: `{id, user: {id, email, full_name}, role, created_at}`."""

    user = UserSummarySerializer(read_only=True)

    class Meta:
        model = Membership
        fields = ("id", "user", "role", "created_at")
        read_only_fields = fields


class MemberCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices)


class MemberUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class MeSerializer(serializers.ModelSerializer):
    """The signed-in user with the organizations they belong to."""

    organizations = MyOrganizationSerializer(many=True, source="active_memberships")

    class Meta:
        model = User
        fields = ("id", "email", "full_name", "organizations")
        read_only_fields = fields
