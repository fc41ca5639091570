"""Compiling one serializer field: the column it reads and how DRF writes the column's value."""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

# Fields whose to_representation() returns the column's value unchanged when the column is
# of the matching model type (CharField: str(value); IntegerField: int(value); choices: the
# stored value; JSON: the decoded value unless `binary`): skipping the call saves ~10% of a page.
_IDENTITY = {
    serializers.CharField.to_representation: (models.CharField, models.TextField),
    serializers.IntegerField.to_representation: (models.IntegerField, models.AutoField),
    serializers.ChoiceField.to_representation: (models.CharField, models.TextField),
    serializers.ReadOnlyField.to_representation: (models.Field,),
    serializers.JSONField.to_representation: (models.JSONField,),
}


@dataclass(frozen=True)
class Column:
    """One field read from one column: `convert` is None when the value is written as is."""

    name: str
    column: str
    convert: object


class IsoDateTime:
    """DateTimeField.to_representation for the aware values USE_TZ reads from the database,
    in ISO 8601: in the current time zone, `Z` for UTC (~1 us instead of ~10). Bound to the
    time zone once per page, as DRF reads it once per value."""

    def __init__(self, field: serializers.DateTimeField):
        self.field = field

    def bind(self, zone):
        field = self.field

        def convert(value: datetime.datetime):
            if value.tzinfo is None:
                return field.to_representation(value)
            try:
                text = value.astimezone(zone).isoformat()
            except OverflowError:  # near datetime.min/max: DRF's own error
                return field.to_representation(value)
            return text[:-6] + "Z" if text.endswith("+00:00") else text

        return convert


def _is_iso(field: serializers.Field, default: str) -> bool:
    output_format = getattr(field, "format", default)
    return isinstance(output_format, str) and output_format.lower() == ISO_8601


def _converter(field: serializers.Field, model_field: models.Field):
    """What writes a column's (non-null) value as `field` does; None: the value as is."""
    method = type(field).to_representation
    types = _IDENTITY.get(method)
    if (
        types
        and isinstance(model_field, types)
        and not getattr(field, "binary", False)
        # A text column's choices map each stored string to itself.
        and all(isinstance(key, str) for key in getattr(field, "choices", {}))
    ):
        return None
    if (
        method is serializers.BigIntegerField.to_representation
        and isinstance(model_field, models.IntegerField | models.AutoField)
        and not getattr(field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING)
    ):
        return None
    if (
        method is serializers.DateTimeField.to_representation
        and isinstance(model_field, models.DateTimeField)
        and settings.USE_TZ
        and not hasattr(field, "timezone")
        and _is_iso(field, api_settings.DATETIME_FORMAT)
    ):
        return IsoDateTime(field)
    if (
        method is serializers.DateField.to_representation
        and type(model_field) is models.DateField
        and _is_iso(field, api_settings.DATE_FORMAT)
    ):
        return datetime.date.isoformat
    return field.to_representation


def column_of(field: serializers.Field, model: type[models.Model], prefix: str = "") -> Column:
    source = field.source
    if source == "*" or "." in source or isinstance(field, serializers.SerializerMethodField):
        raise ImproperlyConfigured(
            f"{field.parent.__class__.__name__}.{field.field_name}: only model fields and their "
            "relations can be read from rows."
        )
    try:
        model_field = model._meta.get_field(source)
    except Exception as exc:
        raise ImproperlyConfigured(f"{model.__name__} has no field {source!r}.") from exc
    if isinstance(field, serializers.PrimaryKeyRelatedField):
        if field.pk_field is not None or not model_field.many_to_one:
            raise ImproperlyConfigured(f"{source}: only a plain foreign key's id is supported.")
        return Column(field.field_name, prefix + source, None)
    if model_field.is_relation:
        raise ImproperlyConfigured(f"{source}: a relation needs a nested serializer here.")
    return Column(field.field_name, prefix + model_field.attname, _converter(field, model_field))


def flat_columns(serializer: serializers.ModelSerializer, prefix: str) -> tuple[Column, ...]:
    model = serializer.Meta.model
    columns = []
    for name, field in serializer.fields.items():
        if field.write_only:
            continue
        if isinstance(field, serializers.BaseSerializer):
            raise ImproperlyConfigured(f"{name}: objects nested two levels deep are not supported.")
        columns.append(column_of(field, model, prefix))
    return tuple(columns)


def ordering_of(model: type[models.Model], prefix: str) -> tuple[str, ...]:
    ordering = []
    for item in model._meta.ordering:
        if not isinstance(item, str) or item == "?":
            raise ImproperlyConfigured(f"{model.__name__}.Meta.ordering: only field names.")
        descending = item.startswith("-")
        ordering.append(("-" if descending else "") + prefix + item.removeprefix("-"))
    return tuple(ordering)
