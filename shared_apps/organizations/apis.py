"""Organization endpoints: self-service onboarding (public host) and members (tenant hosts)."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from .models import Membership, Role
from .permissions import ActionPermissionsMixin, IsOrgAdmin, IsOrgMember, IsOwnMembership
from .selectors import membership_list, organization_list_for_user
from .serializers import (
    MemberCreateSerializer,
    MemberSerializer,
    MemberUpdateSerializer,
    MyOrganizationSerializer,
    OrganizationCreateSerializer,
)
from .services import (
    membership_change_role,
    membership_create,
    membership_delete,
    organization_create,
)


class OrganizationViewSet(viewsets.GenericViewSet):
    """The caller's organizations; creating one makes the caller its ADMIN."""

    serializer_class = MyOrganizationSerializer
    pagination_class = None

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
        organization = organization_create(**serializer.validated_data, admin=request.user)
        membership = Membership(organization=organization, user=request.user, role=Role.ADMIN)
        return Response(MyOrganizationSerializer(membership).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    create=extend_schema(request=MemberCreateSerializer, responses={201: MemberSerializer}),
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

    def get_object(self):
        membership = get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])
        self.check_object_permissions(self.request, membership)
        return membership

    def create(self, request):
        serializer = MemberCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = membership_create(organization=request.tenant, **serializer.validated_data)
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        membership = self.get_object()
        serializer = MemberUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = membership_change_role(membership=membership, **serializer.validated_data)
        return Response(MemberSerializer(membership).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        membership_delete(membership=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
