"""JSON request bodies: DRF's parser, plus the inputs it lets through as server errors."""

import re

from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

from . import messages

# Far deeper than any body this API accepts, far below Python's recursion limit.
MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONParser(parsers.JSONParser):
    """DRF's JSONParser, answering 400 instead of 500 for:

    - nesting deeper than MAX_DEPTH (`[[[[...` exhausts the decoder's recursion, and
      shallower but deep documents can exhaust it later, in validation or logging);
    - strings holding unpaired surrogates: `"\\ud800"` is valid JSON but not Unicode, so no
      database column or UTF-8 response can hold it (I-JSON, RFC 7493, forbids them). The
      error names the top-level field that holds one.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(messages.JSON_TOO_DEEP.format(limit=MAX_DEPTH)) from None
        _check(data)
        return data


def _check(data) -> None:
    """Walk the parsed document without recursion, checking depth and every string."""
    # (value, depth, top-level field it belongs to)
    pending = [(data, 1, None)]
    while pending:
        value, depth, field = pending.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                if field is None:
                    raise ParseError(messages.JSON_SURROGATE)
                raise ValidationError({field: [messages.JSON_SURROGATE]})
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise ParseError(messages.JSON_TOO_DEEP.format(limit=MAX_DEPTH))
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                owner = key if depth == 1 and isinstance(value, dict) else field
                pending.append((key, depth, field))
                pending.append((item, depth + 1, owner))
