"""Public-host endpoints: register, login, logout, me."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from shared_apps.organizations.selectors import organization_list_for_user
from shared_apps.organizations.serializers import MeSerializer

from .serializers import (
    LoginSerializer,
    RegisterSerializer,
    TokenSerializer,
    UserSummarySerializer,
)
from .services import token_create, token_revoke, user_create

INVALID_CREDENTIALS = "Unable to log in with these credentials."


class RegisterApi(APIView):
    """Create an account."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=RegisterSerializer, responses={201: UserSummarySerializer})
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_create(**serializer.validated_data)
        return Response(UserSummarySerializer(user).data, status=status.HTTP_201_CREATED)


class LoginApi(APIView):
    """Exchange email and password for a Bearer token."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=LoginSerializer, responses={200: TokenSerializer})
    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # One message for unknown email and wrong password: do not reveal who has an account.
        user = authenticate(request, **serializer.validated_data)
        if user is None:
            return Response({"detail": INVALID_CREDENTIALS}, status=status.HTTP_400_BAD_REQUEST)
        instance, token = token_create(user=user)
        return Response(TokenSerializer({"token": token, "expires_at": instance.expiry}).data)


class LogoutApi(APIView):
    """Revoke the token used for this request."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        if request.auth is not None:
            token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    """The current user and their organizations."""

    @extend_schema(responses={200: MeSerializer})
    def get(self, request):
        user = request.user
        user.active_memberships = organization_list_for_user(user=user)
        return Response(MeSerializer(user).data)
