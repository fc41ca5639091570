"""Organization endpoints: the caller's organizations, profile and invitations (public host);
members and invitations (tenant hosts)."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from saas.api.throttling import (
    EmailLinkAddressThrottle,
    OrganizationCreateThrottle,
    throttle_classes,
)
from shared_apps.accounts.apis import AnonymousApi
from shared_apps.accounts.services import token_create

from .models import Invitation, Membership
from .permissions import ActionPermissionsMixin, IsOrgAdmin, IsOrgMember, IsOwnMembership
from .selectors import (
    invitation_list_for_user,
    invitation_list_pending,
    membership_get,
    membership_list,
    organization_list_for_user,
)
from .serializers import (
    InvitationAcceptedSerializer,
    InvitationAcceptSerializer,
    InvitationCreateSerializer,
    InvitationSerializer,
    MemberSerializer,
    MemberUpdateSerializer,
    MeSerializer,
    MyOrganizationSerializer,
    OrganizationCreateSerializer,
)
from .services import (
    invitation_accept,
    invitation_accept_with_token,
    invitation_create,
    invitation_resend,
    invitation_revoke,
    membership_change_role,
    membership_delete,
    organization_create_self_service,
)


class OrganizationViewSet(viewsets.GenericViewSet):
    """The caller's organizations; creating one makes the caller its ADMIN."""

    serializer_class = MyOrganizationSerializer
    pagination_class = None
    throttle_classes = throttle_classes(OrganizationCreateThrottle)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no real user
            return Membership.objects.none()
        return organization_list_for_user(user=self.request.user)

    @extend_schema(responses={200: MyOrganizationSerializer(many=True)})
    def list(self, request):
        return Response(MyOrganizationSerializer(self.get_queryset(), many=True).data)

    @extend_schema(request=OrganizationCreateSerializer, responses={201: MyOrganizationSerializer})
    def create(self, request):
        serializer = OrganizationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        organization = organization_create_self_service(
            **serializer.validated_data, user=request.user
        )
        membership = membership_get(user=request.user, organization=organization)
        return Response(MyOrganizationSerializer(membership).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    create=extend_schema(
        request=InvitationCreateSerializer,
        responses={201: InvitationSerializer},
        description="Invite someone by email (ADMIN): they become a member when they accept.",
    ),
    partial_update=extend_schema(request=MemberUpdateSerializer, responses={200: MemberSerializer}),
)
class MemberViewSet(
    ActionPermissionsMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Members of the organization served at this host."""

    serializer_class = MemberSerializer
    lookup_value_regex = r"[0-9]+"
    default_ordering = "created_at"  # oldest members first
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    action_permissions = {
        "list": [IsOrgMember],
        "retrieve": [IsOrgMember],
        "create": [IsOrgAdmin],
        "partial_update": [IsOrgAdmin],
        "destroy": [IsOrgAdmin, IsOwnMembership],
    }

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no tenant
            return Membership.objects.none()
        return membership_list(organization=self.request.tenant)

    def get_serializer_class(self):
        # What OPTIONS describes for POST/PATCH (ActionMetadata sets the action).
        if self.action == "create":
            return InvitationCreateSerializer
        if self.action == "partial_update":
            return MemberUpdateSerializer
        return MemberSerializer

    def get_object(self):
        membership = get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])
        self.check_object_permissions(self.request, membership)
        return membership

    def create(self, request):
        serializer = InvitationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = invitation_create(
            organization=request.tenant, invited_by=request.user, **serializer.validated_data
        )
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        membership = self.get_object()
        serializer = MemberUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = membership_change_role(
            membership=membership, actor=request.user, **serializer.validated_data
        )
        return Response(MemberSerializer(membership).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        membership_delete(membership=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationViewSet(
    ActionPermissionsMixin, mixins.ListModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """The organization's pending invitations (ADMIN; expired ones too, to resend): list,
    revoke, resend. Create one with `POST /api/members/`."""

    serializer_class = InvitationSerializer
    lookup_value_regex = r"[0-9]+"
    default_ordering = "-created_at"
    action_permissions = {
        "list": [IsOrgAdmin],
        "destroy": [IsOrgAdmin],
        "resend": [IsOrgAdmin],
    }

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no tenant
            return Invitation.objects.none()
        return invitation_list_pending(organization=self.request.tenant)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        invitation_revoke(invitation=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: InvitationSerializer})
    @action(detail=True, methods=["post"])
    def resend(self, request, pk=None):
        """Email the invitation again with a new link (the old one stops working)."""
        invitation = invitation_resend(invitation=self.get_object())
        return Response(InvitationSerializer(invitation).data)


class MeApi(APIView):
    """The signed-in user, their organizations and the invitations they can accept."""

    @extend_schema(responses={200: MeSerializer})
    def get(self, request):
        user = request.user
        user.active_memberships = organization_list_for_user(user=user)
        user.open_invitations = invitation_list_for_user(user=user)
        return Response(MeSerializer(user).data)


class MyInvitationAcceptApi(APIView):
    """Accept an invitation addressed to the signed-in user; returns the organization joined."""

    @extend_schema(
        request=None,
        responses={200: MyOrganizationSerializer},
        operation_id="api_auth_invitations_accept_mine",
    )
    def post(self, request, pk):
        invitation = get_object_or_404(invitation_list_for_user(user=request.user), pk=pk)
        membership = invitation_accept(invitation=invitation, user=request.user)
        return Response(MyOrganizationSerializer(membership).data)


class InvitationTokenAcceptApi(AnonymousApi):
    """Accept with the emailed token and a password, without signing in: creates the account
    (or sets the password of one that has none) and returns a login token."""

    throttle_classes = throttle_classes(EmailLinkAddressThrottle)

    @extend_schema(
        request=InvitationAcceptSerializer, responses={200: InvitationAcceptedSerializer}
    )
    def post(self, request):
        serializer = InvitationAcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership, user = invitation_accept_with_token(**serializer.validated_data)
        instance, token = token_create(user=user)
        data = {"token": token, "expires_at": instance.expiry, "organization": membership}
        return Response(InvitationAcceptedSerializer(data).data)
