"""Serializers for organizations and memberships."""

from rest_framework import serializers

from shared_apps.accounts.models import User
from shared_apps.accounts.serializers import (
    EMAIL_MAX_LENGTH,
    FULL_NAME_MAX_LENGTH,
    TOKEN_MAX_LENGTH,
    TokenSerializer,
    UserSummarySerializer,
    password_field,
)

from .models import Invitation, Membership, Role


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


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=EMAIL_MAX_LENGTH)
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationSerializer(serializers.ModelSerializer):
    """A pending invitation, as the organization's ADMINs see it."""

    invited_by = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Invitation
        fields = ("id", "email", "role", "invited_by", "created_at", "expires_at")
        read_only_fields = fields


class OrganizationSummarySerializer(serializers.Serializer):
    slug = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    domain = serializers.CharField(read_only=True)


class MyInvitationSerializer(serializers.ModelSerializer):
    """An invitation addressed to the signed-in user."""

    organization = OrganizationSummarySerializer(read_only=True)
    invited_by = UserSummarySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Invitation
        fields = ("id", "organization", "role", "invited_by", "created_at", "expires_at")
        read_only_fields = fields


class InvitationAcceptSerializer(serializers.Serializer):
    """Accept with the emailed token; `password` is the new one (or the account's own)."""

    token = serializers.CharField(max_length=TOKEN_MAX_LENGTH)
    password = password_field()
    full_name = serializers.CharField(
        max_length=FULL_NAME_MAX_LENGTH, required=False, allow_blank=True, default=""
    )


class InvitationAcceptedSerializer(TokenSerializer):
    """A login token, and the organization just joined."""

    organization = MyOrganizationSerializer(read_only=True)


class MemberUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class MeSerializer(serializers.ModelSerializer):
    """The signed-in user, the organizations they belong to and the invitations they can accept."""

    organizations = MyOrganizationSerializer(many=True, source="active_memberships")
    invitations = MyInvitationSerializer(many=True, source="open_invitations")

    class Meta:
        model = User
        fields = ("id", "email", "full_name", "organizations", "invitations")
        read_only_fields = fields
