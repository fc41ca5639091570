"""One exception handler: Django ValidationErrors and integrity races become DRF 400s."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    """DRF's handler, plus services' Django ValidationErrors as `{"field": [msg]}` / `{"detail": ...}`."""
    if isinstance(exc, DjangoValidationError):
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
