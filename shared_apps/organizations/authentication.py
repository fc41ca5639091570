"""Bearer tokens on organization hosts: the user's role there read in the token's own query."""

import functools

from django.db import connection

from shared_apps.accounts.authentication import BearerTokenAuthentication, TokenJoin
from shared_apps.accounts.models import User

from .models import Membership, Role
from .permissions import request_organization, request_role_remember


class MemberBearerTokenAuthentication(BearerTokenAuthentication):
    """BearerTokenAuthentication that, on an organization's host, also reads the user's
    membership role there with the token (a LEFT JOIN: no row, not a member), so an
    authenticated request to an organization pays one query for token, user and role
    instead of two round trips. The role is what `request_role` would have read, in the
    same request; on the base domain nothing is joined."""

    def token_join(self, request) -> TokenJoin | None:
        organization = request_organization(request)
        self._request = request
        if organization is None:
            return None
        columns, join = _membership_join()
        return TokenJoin(columns=columns, join=join, params=(organization.pk,))

    def validate_user(self, auth_token):
        user_and_token = super().validate_user(auth_token)
        if self._join is not None:
            (role,) = auth_token.joined
            request_role_remember(self._request, None if role is None else Role(role))
        return user_and_token


@functools.cache
def _membership_join() -> tuple[tuple[str, ...], str]:
    """The role column and the LEFT JOIN that reads it (names from the models, built once)."""
    quote = connection.ops.quote_name
    user_pk = quote(User._meta.pk.column)
    user_fk = quote(Membership._meta.get_field("user").column)
    organization_fk = quote(Membership._meta.get_field("organization").column)
    return (
        (f"m.{quote('role')}",),
        f" LEFT JOIN {quote(Membership._meta.db_table)} m ON m.{user_fk} = u.{user_pk}"
        f" AND m.{organization_fk} = %s",
    )
