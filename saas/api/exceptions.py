"""One exception handler: Django's and DRF's exceptions become the API's JSON error responses."""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from saas.api import messages


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"


def exception_handler(exc, context):
    """DRF's handler, plus:

    - Django ValidationError -> 400 `{"field": [msg]}` / `{"detail": ...}`;
    - a body over DATA_UPLOAD_MAX_MEMORY_SIZE -> 413 naming the limit, other SuspiciousOperation
      (too many parameters, ...) -> 400, logged to django.security.* as Django would;
    - 401/403 for a method the view has no handler for -> 405: DRF checks permissions before
      it looks for the handler, so the answer used to depend on the caller's role.

    A missing row (DoesNotExist) is not turned into a 404 here: lookups that mean "not found"
    raise Http404 themselves, so any other one is a bug and stays a logged 500.
    """
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_validation_detail(exc))
    elif isinstance(exc, SuspiciousOperation):
        exc = _suspicious_operation(exc, context.get("request"))
    elif isinstance(
        exc, (exceptions.NotAuthenticated, exceptions.PermissionDenied, DjangoPermissionDenied)
    ) and not _has_handler(context.get("view"), context.get("request")):
        exc = exceptions.MethodNotAllowed(context["request"].method)
    return drf_exception_handler(exc, context)


def _validation_detail(exc: DjangoValidationError) -> dict:
    if hasattr(exc, "error_dict"):
        return {
            ("non_field_errors" if field == "__all__" else field): field_messages
            for field, field_messages in exc.message_dict.items()
        }
    found = exc.messages
    return {"detail": found[0] if len(found) == 1 else found}


def _suspicious_operation(exc: SuspiciousOperation, request) -> exceptions.APIException:
    logging.getLogger(f"django.security.{exc.__class__.__name__}").error(
        str(exc), extra={"request": getattr(request, "_request", request)}
    )
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return RequestTooLarge(messages.BODY_TOO_LARGE.format(limit=limit))
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return exceptions.ParseError(messages.TOO_MANY_FIELDS.format(limit=limit))
    return exceptions.ParseError(messages.BAD_REQUEST)


def _has_handler(view, request) -> bool:
    """Whether `view` answers `request.method` (what APIView.dispatch looks up)."""
    if view is None or request is None:
        return True
    method = request.method.lower()
    return method in view.http_method_names and hasattr(view, method)
