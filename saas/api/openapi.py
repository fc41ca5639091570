"""OpenAPI: every operation documents the error responses it can give, in the API's error shapes."""

import re

from django.conf import settings
from drf_spectacular import openapi
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string", "description": "What is wrong."}},
    "required": ["detail"],
}
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "Each key names an input (a field of the body, or a query parameter) and holds its "
        "messages; `non_field_errors` holds those about the input as a whole, and list items "
        'are keyed by position. A body that cannot be read answers `{"detail": "..."}`.'
    ),
    "additionalProperties": {
        "oneOf": [
            {"type": "array", "items": {"type": "string"}},
            {"type": "object", "additionalProperties": True},
            {"type": "string"},
        ]
    },
}
RATE_LIMITED_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "Which limit, and when to try again."},
        "scope": {
            "type": "string",
            "description": "The limit exceeded, e.g. `login_email` (README: Rate limits).",
        },
    },
    "required": ["detail", "scope"],
}
RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}
# Sent with every answer of a throttled operation once its limits were counted, for the
# tightest limit that applies (saas/api/throttling.py).
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": {
        "description": "Requests allowed per window by the tightest limit that applies.",
        "schema": {"type": "integer", "minimum": 1},
    },
    "X-RateLimit-Remaining": {
        "description": "Requests left in its current window.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "X-RateLimit-Reset": {
        "description": "Seconds until its window ends and the count starts again.",
        "schema": {"type": "integer", "minimum": 1},
    },
}


def _choice_list_as_text(parameter: dict) -> None:
    """Documents a comma-separated list of choices (`?status=NEW,DONE`) as the text it is on
    the wire, a pattern over the choices, instead of an array: as an array, values such as
    `[""]` or `["NEW,DONE"]` are invalid and yet sent exactly like valid ones (`status=`,
    `status=NEW,DONE`), so the document could not say which requests the server refuses."""
    schema = parameter.get("schema", {})
    choices = schema.get("items", {}).get("enum")
    if parameter["in"] != "query" or schema.get("type") != "array" or not choices:
        return
    if parameter.get("style", "form") != "form" or parameter.get("explode", True):
        return
    choice = "|".join(re.escape(value) for value in choices)
    parameter["schema"] = {"type": "string", "pattern": f"^({choice})(,({choice}))*$"}
    parameter.pop("style")
    parameter.pop("explode")


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, plus the error responses each operation can give, derived
    from what the view does, so endpoints added later are documented without edits:

    - 400 for writes and for reads with query parameters (validation; unreadable bodies);
    - 401 where the view authenticates (no, invalid or expired token);
    - 403 where a permission beyond "signed in" applies, or a session write may lack CSRF;
    - 404 where the path names an object; 413 and 415 where there is a request body;
    - 429 where the view is throttled (`{"detail", "scope"}` and `Retry-After`; every answer of
      such a view documents the `X-RateLimit-*` headers);
    - and what the view declares for the action in `extra_error_responses` (`{"restore":
      {"409": "why"}}`): errors that depend on the data, which no signature reveals.

    Codes an operation declares itself (`@extend_schema(responses=...)`) are left as they are.
    Optional query parameters are marked `allowEmptyValue`: an empty one (`?ordering=`, as
    forms send) means the same as leaving it out, for pagination and filters alike.
    A comma-separated list of choices is documented as text with a pattern over the choices
    (see `_choice_list_as_text`).
    """

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and not parameter.get("required"):
                parameter.setdefault("allowEmptyValue", True)
            _choice_list_as_text(parameter)
        error = self._component("Error", ERROR_SCHEMA)
        invalid = self._component("ValidationError", VALIDATION_ERROR_SCHEMA)
        for code, description in self._error_responses(operation).items():
            schema = invalid if code == "400" else error
            if code == "429":
                schema = self._component("RateLimited", RATE_LIMITED_SCHEMA)
            response = operation["responses"].setdefault(
                code,
                {"description": description, "content": {"application/json": {"schema": schema}}},
            )
            if code == "429" and "$ref" not in response:
                response.setdefault("headers", {}).update(RETRY_AFTER_HEADER)
        if self.view.get_throttles():
            for response in operation["responses"].values():
                if "$ref" not in response:
                    headers = response.setdefault("headers", {})
                    for name, header in RATE_LIMIT_HEADERS.items():
                        headers.setdefault(name, header)
        return operation

    def _component(self, name: str, schema: dict) -> dict:
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _error_responses(self, operation: dict) -> dict[str, str]:
        view = self.view
        parameters = operation.get("parameters", [])
        writes = self.method in UNSAFE_METHODS
        authenticators = view.get_authenticators()
        restricted = any(
            not isinstance(permission, (AllowAny, IsAuthenticated))
            for permission in view.get_permissions()
        )
        session_write = writes and any(
            isinstance(authenticator, SessionAuthentication) for authenticator in authenticators
        )
        responses = {}
        if writes or any(parameter["in"] == "query" for parameter in parameters):
            responses["400"] = "Invalid input: the messages name each field or parameter."
        if authenticators:
            responses["401"] = (
                "Not signed in: send `Authorization: Bearer <token>` with a valid token."
            )
        if restricted or session_write:
            responses["403"] = "Signed in, but not allowed to do this here."
        if any(parameter["in"] == "path" for parameter in parameters):
            responses["404"] = "No such object here."
        if "requestBody" in operation:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            responses["413"] = f"The request body is larger than {limit} bytes."
            responses["415"] = "The request body is not `application/json`."
        if view.get_throttles():
            responses["429"] = "Too many requests: retry after the `Retry-After` seconds."
        extra = getattr(view, "extra_error_responses", {})
        responses.update(extra.get(getattr(view, "action", None), {}))
        return dict(sorted(responses.items()))
