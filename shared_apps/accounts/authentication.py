"""Bearer token authentication: knox's, with clear 401s for malformed headers, in one query."""

import binascii
import functools
from hmac import compare_digest
from typing import NamedTuple

from django.db import connection
from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from knox.crypto import hash_token
from knox.models import get_token_model
from knox.settings import CONSTANTS, knox_settings
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from .models import User

INVALID_TOKEN = "Invalid token."
USE_BEARER = (
    'Send the token as "Authorization: Bearer <token>"; the "Token" prefix is not accepted.'
)


class TokenJoin(NamedTuple):
    """More columns read with the token in its one query: `columns` from `join` (SQL built from
    model metadata, never from input), whose placeholders take `params`."""

    columns: tuple[str, ...]
    join: str
    params: tuple = ()


class BearerTokenAuthentication(TokenAuthentication):
    """knox's TokenAuthentication (`Authorization: Bearer <token>`), plus:

    - `Token <token>` (DRF's and knox's default prefix) is a 401 saying to use Bearer, where
      knox would skip the header and the caller would only read "credentials were not provided";
    - a token that is not printable ASCII is a 401 "Invalid token.": knox tokens are hex, and
      knox would fail decoding other bytes as UTF-8 (a 500) or send a NUL to PostgreSQL;
    - the token and its user are read with one plain SQL query (`_tokens`), knox's checks
      unchanged. A subclass can read more in that query (`token_join`): the columns land on
      the token as `joined`.
    """

    def token_join(self, request) -> TokenJoin | None:
        """What to read with the token for this request (nothing here)."""
        return None

    def authenticate(self, request):
        try:
            scheme = get_authorization_header(request).split()[:1]
        except UnicodeEncodeError:  # a str header outside Latin-1 (test clients; never WSGI)
            raise AuthenticationFailed(INVALID_TOKEN) from None
        if scheme and scheme[0].lower() == b"token":
            raise AuthenticationFailed(USE_BEARER)
        self._join = self.token_join(request)
        return super().authenticate(request)

    def authenticate_credentials(self, token: bytes):
        try:
            printable = token.decode("ascii").isprintable()
        except UnicodeDecodeError:
            printable = False
        if not printable:
            raise AuthenticationFailed(INVALID_TOKEN)
        # knox's own loop over the tokens sharing the key, with the tokens read by _tokens().
        token = token.decode("ascii")
        for auth_token in _tokens(
            token[: CONSTANTS.TOKEN_KEY_LENGTH], getattr(self, "_join", None)
        ):
            if self._cleanup_token(auth_token):
                continue
            try:
                digest = hash_token(token)
            except (TypeError, binascii.Error):
                raise AuthenticationFailed(INVALID_TOKEN) from None
            if compare_digest(digest, auth_token.digest):
                if knox_settings.AUTO_REFRESH and auth_token.expiry:
                    self.renew_token(auth_token)
                return self.validate_user(auth_token)
        raise AuthenticationFailed(INVALID_TOKEN)

    def _cleanup_token(self, auth_token) -> bool:
        """Skip (and delete) this token if it expired. knox would also load every other token
        of the user, on every request, to delete the expired ones: a query per request that
        grows with the user's devices. Those go at the user's next login (token_create)."""
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


@functools.cache
def _tokens_sql(join: tuple[tuple[str, ...], str] | None = None) -> str:
    """The tokens with one key, each with its user (and `join`'s columns), in one query
    (columns from the models)."""
    token_model, quote = get_token_model(), connection.ops.quote_name
    columns = [f"t.{quote(f.column)}" for f in token_model._meta.concrete_fields]
    columns += [f"u.{quote(f.column)}" for f in User._meta.concrete_fields]
    user_fk = quote(token_model._meta.get_field("user").column)
    key = quote(token_model._meta.get_field("token_key").column)
    extra_columns, extra_join = join or ((), "")
    return (
        f"SELECT {', '.join([*columns, *extra_columns])} FROM {quote(token_model._meta.db_table)} t"
        f" JOIN {quote(User._meta.db_table)} u ON u.{quote(User._meta.pk.column)} = t.{user_fk}"
        f"{extra_join} WHERE t.{key} = %s"
    )


def _tokens(token_key: str, join: TokenJoin | None = None) -> list:
    """knox's `AuthToken.objects.filter(token_key=...).select_related("user")`, as plain SQL.

    On every authenticated request: building that query with the ORM took ~0.9 ms of Python
    here (a fifth of a cached dashboard request), PostgreSQL answers it in ~0.05 ms.
    """
    token_model = get_token_model()
    token_fields = [f.attname for f in token_model._meta.concrete_fields]
    user_fields = [f.attname for f in User._meta.concrete_fields]
    sql = _tokens_sql(None if join is None else (join.columns, join.join))
    params = [*(join.params if join else ()), token_key]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    tokens = []
    users_end = len(token_fields) + len(user_fields)
    for row in rows:
        auth_token = token_model.from_db(connection.alias, token_fields, row[: len(token_fields)])
        auth_token.user = User.from_db(
            connection.alias, user_fields, row[len(token_fields) : users_end]
        )
        auth_token.joined = row[users_end:]
        tokens.append(auth_token)
    return tokens


class BearerTokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme of BearerTokenAuthentication (drf-spectacular matches
    authentication classes exactly, so knox's own extension does not cover the subclass)."""

    target_class = BearerTokenAuthentication
    match_subclasses = True  # and MemberBearerTokenAuthentication (organization hosts)
