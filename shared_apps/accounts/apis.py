"""Public-host endpoints: sign-up and verification, login and logout, passwords."""

from django.contrib.auth import authenticate, update_session_auth_hash
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from saas.api.throttling import (
    EmailLinkAddressThrottle,
    LoginAddressThrottle,
    LoginEmailThrottle,
    PasswordResetAddressThrottle,
    PasswordResetEmailThrottle,
    RegisterAddressThrottle,
    RegisterEmailThrottle,
    throttle_classes,
)

from .serializers import (
    DetailSerializer,
    EmailVerifySerializer,
    LoginSerializer,
    PasswordChangeSerializer,
    PasswordResetConfirmSerializer,
    PasswordResetSerializer,
    RegisterSerializer,
    TokenSerializer,
)
from .services import (
    email_verify,
    password_change,
    password_reset_request,
    password_set_from_link,
    token_create,
    token_revoke,
    tokens_revoke_all,
    user_register,
)

INVALID_CREDENTIALS = "Unable to log in with these credentials."
EMAIL_NOT_VERIFIED = (
    "Confirm your email address first: follow the link we emailed you. Lost it? Ask for a "
    "password reset: setting a password from its link confirms the address too."
)
REGISTER_ACCEPTED = (
    "Check your inbox: we sent a message to this address. Follow its link to confirm it, "
    "then log in."
)
RESET_ACCEPTED = "If an account uses this address, we emailed it a link to set a new password."
PASSWORD_CHANGED = "Password changed. Every other session of this account was logged out."


class AnonymousApi(APIView):
    """An endpoint for people who are not signed in: no authentication is even attempted,
    so a stale token in the request cannot turn a sign-up or reset into a 401."""

    permission_classes = [AllowAny]
    authentication_classes: list = []


def token_response(user, code=status.HTTP_200_OK) -> Response:
    """A new API token for `user`, as login returns it."""
    instance, token = token_create(user=user)
    return Response(TokenSerializer({"token": token, "expires_at": instance.expiry}).data, code)


class RegisterApi(AnonymousApi):
    """Sign up: always 202 with the same body; the emailed link activates the account."""

    throttle_classes = throttle_classes(RegisterAddressThrottle, RegisterEmailThrottle)

    @extend_schema(request=RegisterSerializer, responses={202: DetailSerializer})
    def post(self, request):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user_register(**serializer.validated_data)
        return Response({"detail": REGISTER_ACCEPTED}, status=status.HTTP_202_ACCEPTED)


class VerifyEmailApi(AnonymousApi):
    """Confirm an address with the `uid` and `token` of the emailed link and the password chosen
    at sign-up; returns a login token."""

    throttle_classes = throttle_classes(EmailLinkAddressThrottle)

    @extend_schema(request=EmailVerifySerializer, responses={200: TokenSerializer})
    def post(self, request):
        serializer = EmailVerifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = email_verify(uidb64=data["uid"], token=data["token"], password=data["password"])
        return token_response(user)


class LoginApi(AnonymousApi):
    """Exchange email and password for a Bearer token."""

    throttle_classes = throttle_classes(LoginAddressThrottle, LoginEmailThrottle)

    @extend_schema(request=LoginSerializer, responses={200: TokenSerializer})
    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # One message for unknown email and wrong password: do not reveal who has an account.
        user = authenticate(request, **serializer.validated_data)
        if user is None:
            return Response({"detail": INVALID_CREDENTIALS}, status=status.HTTP_400_BAD_REQUEST)
        # Said only to someone who knows the password.
        if not user.is_email_verified:
            return Response({"detail": EMAIL_NOT_VERIFIED}, status=status.HTTP_400_BAD_REQUEST)
        return token_response(user)


class LogoutApi(APIView):
    """Revoke the token used for this request."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        if request.auth is not None:
            token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllApi(APIView):
    """Revoke every token of the signed-in user, on every device."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        tokens_revoke_all(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetApi(AnonymousApi):
    """Email a link to set a new password: always 202, whether or not the address has an account."""

    throttle_classes = throttle_classes(PasswordResetAddressThrottle, PasswordResetEmailThrottle)

    @extend_schema(request=PasswordResetSerializer, responses={202: DetailSerializer})
    def post(self, request):
        serializer = PasswordResetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        password_reset_request(**serializer.validated_data)
        return Response({"detail": RESET_ACCEPTED}, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(AnonymousApi):
    """Set a new password with the emailed link's `uid` and `token`; every old token ends and
    a new one is returned."""

    throttle_classes = throttle_classes(EmailLinkAddressThrottle)

    @extend_schema(request=PasswordResetConfirmSerializer, responses={200: TokenSerializer})
    def post(self, request):
        serializer = PasswordResetConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = password_set_from_link(
            uidb64=data["uid"], token=data["token"], new_password=data["new_password"]
        )
        return token_response(user)


class PasswordChangeApi(APIView):
    """Change the password with the current one; every other token of the user ends."""

    # Checks a password like login does, and counts with it.
    throttle_classes = throttle_classes(LoginAddressThrottle, LoginEmailThrottle)

    @extend_schema(request=PasswordChangeSerializer, responses={200: DetailSerializer})
    def post(self, request):
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        password_change(user=request.user, keep=request.auth, **serializer.validated_data)
        if request.auth is None:  # signed in with a session (browsable API): stay signed in
            update_session_auth_hash(request._request, request.user)
        return Response({"detail": PASSWORD_CHANGED})
