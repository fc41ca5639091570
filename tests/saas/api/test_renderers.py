"""ORJSONRenderer writes what DRF's JSONRenderer writes, byte for byte."""

import datetime
import decimal
import json
import uuid
import zoneinfo

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from saas.api.renderers import ORJSONRenderer

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
PAYLOADS = [
    {},
    [],
    {"a": 1, "b": [1, 2.5, -3, True, False, None], "c": {"nested": "yes"}},
    {"z": 1, "a": 2, "m": 3},  # key order kept
    "plain",
    'quotes " backslash \\ slash /',
    "unicode é 日本 🚀 and a lone \u00ff",
    "controls \x00 \x01 \x08 \x09 \x0a \x0c \x0d \x1f and DEL \x7f",
    "separators \u2028 and \u2029 in a string",
    {"key \u2028": "value \u2029"},
    "</script>&<>'",
    0,
    -(2**63),
    2**64 - 1,
    1.0,
    123456789.123456789,
    ReturnDict({"id": 1, "title": "x"}, serializer=None),
    ReturnList([{"id": 1}], serializer=None),
    {"detail": ErrorDetail("Not found.", code="not_found")},
    {"field": [ErrorDetail("Bad.", code="invalid")]},
    {"lazy": gettext_lazy("This field is required.")},
    {"decimal": decimal.Decimal("12.50")},
    {"uuid": uuid.UUID("12345678-1234-5678-1234-567812345678")},
    {"aware": datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC)},
    {"whole second": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)},
    {"paris": datetime.datetime(2026, 7, 1, 12, 0, tzinfo=PARIS)},
    {"naive": datetime.datetime(2026, 1, 2, 3, 4, 5, 6)},
    {"date": datetime.date(2026, 2, 28), "time": datetime.time(13, 45, 1, 5)},
    {"timedelta": datetime.timedelta(hours=1, microseconds=5)},
    {7: "int key", 2.5: "float key", False: "bool key", None: "null key"},
    {"tuple": (1, 2), "set": {3}, "bytes": b"raw"},
    [[[[{"deep": [1, {"er": None}]}]]]],
]


@pytest.mark.parametrize("data", PAYLOADS, ids=range(len(PAYLOADS)))
def test_the_output_is_drfs_byte_for_byte(data):
    assert ORJSONRenderer().render(data) == JSONRenderer().render(data)


def test_no_data_is_an_empty_body():
    assert ORJSONRenderer().render(None) == b""


@pytest.mark.parametrize("media_type", ["application/json; indent=4", "application/json; indent=2"])
def test_indented_output_is_drfs(media_type):
    data = {"a": [1, {"b": "c"}], "d": "é"}

    assert ORJSONRenderer().render(data, media_type) == JSONRenderer().render(data, media_type)
    assert b"\n" in ORJSONRenderer().render(data, media_type)


def test_the_browsable_apis_indent_is_drfs():
    data = {"a": [1, 2]}
    context = {"indent": 4}

    assert ORJSONRenderer().render(data, None, context) == JSONRenderer().render(
        data, None, context
    )


def test_integers_beyond_64_bits_are_written_by_drf():
    data = {"big": 2**70, "negative": -(2**70)}

    assert (
        ORJSONRenderer().render(data)
        == JSONRenderer().render(data)
        == (b'{"big":1180591620717411303424,"negative":-1180591620717411303424}')
    )


def test_what_drf_cannot_render_fails_the_same_way():
    with pytest.raises(TypeError):
        JSONRenderer().render({"object": object()})
    with pytest.raises(TypeError):
        ORJSONRenderer().render({"object": object()})


@pytest.mark.parametrize("number", [1e-7, 1e16, -2.5e-300, 1.7976931348623157e308])
def test_a_float_in_exponent_form_is_the_same_number_written_shorter(number):
    """The documented difference: Python writes 1e-07 and 1e+16, orjson 1e-7 and 1e16."""
    fast, drf = ORJSONRenderer().render([number]), JSONRenderer().render([number])

    assert json.loads(fast) == json.loads(drf) == [number]


def test_the_documented_difference_a_nan_is_null_instead_of_an_error():
    with pytest.raises(ValueError):
        JSONRenderer().render({"x": float("nan")})

    assert ORJSONRenderer().render({"x": float("nan")}) == b'{"x":null}'
