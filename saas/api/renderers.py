"""JSON rendered by orjson, byte for byte what DRF's JSONRenderer writes for the API's data."""

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

# Dates and times go to DRF's encoder (`default`), as do dataclasses: orjson's own formats
# differ from it; keys may be numbers, as json.dumps allows.
OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_NON_STR_KEYS
)
# DRF escapes these two (valid JSON, but not valid JavaScript string literals).
LINE_SEPARATOR, PARAGRAPH_SEPARATOR = "\u2028".encode(), "\u2029".encode()


class ORJSONRenderer(JSONRenderer):
    """DRF's JSONRenderer, ~4x faster on a page of 50 tasks: the same compact UTF-8 output (keys in
    order, `\\u2028`/`\\u2029` escaped, lazy strings, dates and decimals as DRF's encoder writes
    them). Indented output (the browsable API, `; indent=N`) and what orjson refuses (integers
    beyond 64 bits, strings with lone surrogates) go through DRF's renderer unchanged.

    Two differences, with floats (which no serializer of this project writes): a float in
    exponent form is the same number written shorter (`1e-7` where Python writes `1e-07`),
    and a NaN or infinity is `null`, where DRF's strict JSON refuses to render it."""

    default = JSONEncoder().default

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        try:
            rendered = orjson.dumps(data, default=self.default, option=OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        if LINE_SEPARATOR in rendered or PARAGRAPH_SEPARATOR in rendered:
            rendered = rendered.replace(LINE_SEPARATOR, b"\\u2028").replace(
                PARAGRAPH_SEPARATOR, b"\\u2029"
            )
        return rendered


class FastJSONRenderMixin:
    """Views answer JSON through ORJSONRenderer where the settings name DRF's JSONRenderer
    (the other renderers, such as the browsable API, stay as configured)."""

    def get_renderers(self):
        return [
            ORJSONRenderer() if type(renderer) is JSONRenderer else renderer
            for renderer in super().get_renderers()
        ]
