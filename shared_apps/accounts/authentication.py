"""Bearer token authentication: knox's, with a clear 401 for malformed Authorization headers."""

from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

INVALID_TOKEN = "Invalid token."
USE_BEARER = (
    'Send the token as "Authorization: Bearer <token>"; the "Token" prefix is not accepted.'
)


class BearerTokenAuthentication(TokenAuthentication):
    """knox's TokenAuthentication (`Authorization: Bearer <token>`), plus:

    - `Token <token>` (DRF's and knox's default prefix) is a 401 saying to use Bearer, where
      knox would skip the header and the caller would only read "credentials were not provided";
    - a token that is not printable ASCII is a 401 "Invalid token.": knox tokens are hex, and
      knox would fail decoding other bytes as UTF-8 (a 500) or send a NUL to PostgreSQL.
    """

    def authenticate(self, request):
        try:
            scheme = get_authorization_header(request).split()[:1]
        except UnicodeEncodeError:  # a str header outside Latin-1 (test clients; never WSGI)
            raise AuthenticationFailed(INVALID_TOKEN) from None
        if scheme and scheme[0].lower() == b"token":
            raise AuthenticationFailed(USE_BEARER)
        return super().authenticate(request)

    def authenticate_credentials(self, token: bytes):
        try:
            printable = token.decode("ascii").isprintable()
        except UnicodeDecodeError:
            printable = False
        if not printable:
            raise AuthenticationFailed(INVALID_TOKEN)
        return super().authenticate_credentials(token)

    def _cleanup_token(self, auth_token) -> bool:
        """Skip (and delete) this token if it expired. knox would also load every other token
        of the user, on every request, to delete the expired ones: a query per request that
        grows with the user's devices. Those go at the user's next login (token_create)."""
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


class BearerTokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme of BearerTokenAuthentication (drf-spectacular matches
    authentication classes exactly, so knox's own extension does not cover the subclass)."""

    target_class = BearerTokenAuthentication
