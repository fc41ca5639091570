"""One exception handler: services' Django errors become DRF's JSON responses."""

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """DRF's handler, plus Django ValidationError -> 400 `{"field": [msg]}` / `{"detail": ...}`
    and DoesNotExist (e.g. a row removed by a concurrent request) -> 404."""
    if isinstance(exc, ObjectDoesNotExist):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            detail = {
                ("non_field_errors" if field == "__all__" else field): messages
                for field, messages in exc.message_dict.items()
            }
        else:
            messages = exc.messages
            detail = {"detail": messages[0] if len(messages) == 1 else messages}
        exc = exceptions.ValidationError(detail)
    return drf_exception_handler(exc, context)
