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

from saas.api import messages, throttling
from saas.db.errors import RETRY_AFTER_SECONDS, database_unavailable, log_database_unavailable


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the data."
    default_code = "conflict"


class ConflictError(Exception):
    """Raised by services when a write would contradict rows that exist now (restoring a
    project whose name another live project took meanwhile): a 409 with the message, and
    nothing changed. Views that can raise it list 409 in `extra_error_responses`."""

    def __init__(self, message: str, code: str = "conflict"):
        super().__init__(message)
        self.message = message
        self.code = code


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = messages.JOBS_UNAVAILABLE
    default_code = "service_unavailable"
    # DRF's handler sends it as `Retry-After`.
    wait = 30


class DatabaseUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = messages.DATABASE_UNAVAILABLE
    default_code = "database_unavailable"
    wait = RETRY_AFTER_SECONDS  # sent as `Retry-After`


class JobQueueUnavailableError(Exception):
    """Raised when a background job cannot be queued (the broker is down or too slow): a 503
    saying so, after whatever the request wrote for the job was removed (saas.api.jobs).
    Views that queue jobs list 503 in `extra_error_responses`."""


def exception_handler(exc, context):
    """DRF's handler, plus:

    - Django ValidationError -> 400 `{"field": [msg]}` / `{"detail": ...}`;
    - ConflictError (a service's "not now, the data changed") -> 409 `{"detail": ...}`;
    - JobQueueUnavailableError (a job could not be queued) -> 503 with `Retry-After`;
    - PostgreSQL unreachable, restarting or out of connections -> 503 with `Retry-After`
      (saas/db/errors.py; a failing query stays a 500);
    - a body over DATA_UPLOAD_MAX_MEMORY_SIZE -> 413 naming the limit, other SuspiciousOperation
      (too many parameters, ...) -> 400, logged to django.security.* as Django would;
    - 401/403 for a method the view has no handler for -> 405: DRF checks permissions before
      it looks for the handler, so the answer used to depend on the caller's role;
    - refusals DRF makes before its throttles run (401, 403, 405) are counted against the
      caller's own rate limits, and over a limit -> 429 naming the scope, with `Retry-After`
      (saas/api/throttling.py).

    A missing row (DoesNotExist) is not turned into a 404 here: lookups that mean "not found"
    raise Http404 themselves, so any other one is a bug and stays a logged 500.
    """
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_validation_detail(exc))
    elif isinstance(exc, ConflictError):
        exc = Conflict(exc.message, code=exc.code)
    elif isinstance(exc, JobQueueUnavailableError):
        exc = ServiceUnavailable()
    elif database_unavailable(exc):
        log_database_unavailable(exc, getattr(context.get("request"), "path", "?"))
        exc = DatabaseUnavailable()
    elif isinstance(exc, SuspiciousOperation):
        exc = _suspicious_operation(exc, context.get("request"))
    elif isinstance(
        exc, (exceptions.NotAuthenticated, exceptions.PermissionDenied, DjangoPermissionDenied)
    ) and not _has_handler(context.get("view"), context.get("request")):
        exc = exceptions.MethodNotAllowed(context["request"].method)
    if isinstance(exc, throttling.REFUSALS):
        exc = throttling.refused(exc, context.get("view"), context.get("request"))
    if isinstance(exc, exceptions.Throttled):
        exc = throttling.rate_limited(exc, context.get("request"))
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
