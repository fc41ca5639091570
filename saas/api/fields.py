"""Serializer fields the apps share."""

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else: DRF's CharField also takes numbers, so
    `{"name": 2.2e66}` used to create a project named "2.2164043163610725e+66"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
