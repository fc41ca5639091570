"""Strict query-string filters the apps' FilterSets build on: a malformed value is a 400 naming
the parameter, never a silently ignored filter or a database error."""

import datetime

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_filters.fields import BaseCSVField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from saas.api.messages import INVALID_BOOLEAN, INVALID_DATE, INVALID_DATETIME, INVALID_USER_ID


class NonEmptyItemsCSVField(BaseCSVField):
    """A comma-separated list whose items are never empty: `?status=NEW,` is refused (the
    whole parameter empty still means no filter)."""

    def clean(self, value):
        if value and any(item in self.empty_values for item in value):
            raise ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice", params={"value": ""}
            )
        return super().clean(value)


class ChoiceInFilter(django_filters.BaseInFilter, django_filters.ChoiceFilter):
    """`?status=NEW,DONE`: comma-separated values, each one a valid choice."""

    base_field_class = NonEmptyItemsCSVField

    def __init__(self, *args, noun: str = "choice", choices, **kwargs):
        allowed = ", ".join(value for value, _ in choices)
        invalid = f'"%(value)s" is not a {noun}: use {allowed}, or several separated by commas.'
        kwargs.setdefault("error_messages", {"invalid_choice": invalid})
        super().__init__(*args, choices=choices, **kwargs)


class IsoDateField(forms.DateField):
    """Only YYYY-MM-DD, the format the API documents (Django also reads 10/25/2006 etc.)."""

    input_formats = ["%Y-%m-%d"]
    default_error_messages = {"invalid": INVALID_DATE}


class IsoDateFilter(django_filters.DateFilter):
    field_class = IsoDateField


class IsoDateTimeField(forms.Field):
    """ISO 8601: a date (`2026-03-31`, its midnight) or a date-time (`2026-03-31T14:00:00Z`,
    `...+02:00`); without an offset, in the server's TIME_ZONE."""

    default_error_messages = {"invalid": INVALID_DATETIME}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            parsed = datetime.datetime.fromisoformat(str(value).strip())
            if timezone.is_naive(parsed):
                parsed = timezone.make_aware(parsed)
            # In UTC: PostgreSQL refuses offsets beyond ±15:59, which Python accepts.
            return parsed.astimezone(datetime.UTC)
        except (ValueError, OverflowError):
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None


@extend_schema_field(OpenApiTypes.DATETIME)
class IsoDateTimeFilter(django_filters.Filter):
    field_class = IsoDateTimeField


class UserIdOrMeField(forms.CharField):
    """A user id, or `me` for the requesting user."""

    def clean(self, value):
        value = super().clean(value)
        if value in (None, "") or value == "me":
            return value
        try:
            user_id = int(value)
        except (TypeError, ValueError):
            raise ValidationError(INVALID_USER_ID, code="invalid") from None
        if user_id < 1:
            raise ValidationError(INVALID_USER_ID, code="invalid")
        return user_id


@extend_schema_field({"type": "string", "pattern": "^(me|[0-9]+)$"})
class UserIdOrMeFilter(django_filters.Filter):
    """Filters on a user id; `me` is resolved by the FilterSet's method from the request."""

    field_class = UserIdOrMeField


class BooleanStrictField(forms.TypedChoiceField):
    """Only `true` or `false` (a typo must not silently mean "no filter")."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", [("true", "true"), ("false", "false")])
        kwargs.setdefault("error_messages", {"invalid_choice": INVALID_BOOLEAN})
        kwargs["coerce"] = lambda value: value == "true"
        kwargs["empty_value"] = None
        super().__init__(*args, **kwargs)


@extend_schema_field(OpenApiTypes.BOOL)
class BooleanStrictFilter(django_filters.Filter):
    field_class = BooleanStrictField


class IdFilter(django_filters.NumberFilter):
    """A whole-number id: `1.9` is an error, not id 1."""

    field_class = forms.IntegerField


def user_id_or_me(request, value) -> int:
    """The user id a UserIdOrMeFilter value stands for."""
    return request.user.id if value == "me" else value
