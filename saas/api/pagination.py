"""Keyset (cursor) pagination over (sort key, id): stable under inserts, no COUNT(*), no OFFSET.

DRF's CursorPagination positions on the first ordering field only and breaks ties with an
offset, so with a low-cardinality key (priority, due date) pages shift when rows are added
and deep pages scan. Here the cursor holds the last row's (key, id) and the next page is
`WHERE (key, id) > (k, i)` in the chosen direction, which an index on (key, id) serves.
Cursors are signed (django.core.signing): a forged or altered one is a 400 before any query.
"""

import math
from dataclasses import dataclass

from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import BooleanField, Expression, F, Func, QuerySet, Value
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from saas.api.messages import INVALID_CURSOR

SORT_ALIAS = "_sort_key"
CURSOR_SALT = "saas.pagination.cursor"


@dataclass(frozen=True)
class Ordering:
    """A public ordering name and the expressions that sort by it (ascending, descending)."""

    asc: Expression
    desc: Expression | None = None  # when NULLs must sort differently going down

    @classmethod
    def field(cls, name: str) -> "Ordering":
        return cls(asc=F(name))


class RowComparison(Func):
    """`(a, b) < (x, y)`: one row comparison, which PostgreSQL turns into a single index
    seek to the cursor (an OR of column comparisons makes it scan every tie first)."""

    output_field = BooleanField()

    def __init__(self, left: tuple, operator: str, right: tuple):
        super().__init__(*left, *right)
        self.operator = operator

    def as_sql(self, compiler, connection, **extra):
        compiled = [compiler.compile(expression) for expression in self.source_expressions]
        half = len(compiled) // 2
        left = ", ".join(sql for sql, _ in compiled[:half])
        right = ", ".join(sql for sql, _ in compiled[half:])
        params = [param for _, expression_params in compiled for param in expression_params]
        return f"({left}) {self.operator} ({right})", params


def keyset_order(queryset: QuerySet, key: Expression, descending: bool) -> QuerySet:
    """Annotate the sort key and order by (key, id)."""
    prefix = "-" if descending else ""
    return queryset.annotate(**{SORT_ALIAS: key}).order_by(f"{prefix}{SORT_ALIAS}", f"{prefix}id")


def keyset_page(
    queryset: QuerySet, key: Expression, descending: bool, after_key, after_id: int
) -> QuerySet:
    """Rows strictly past (after_key, after_id) in (key, id) order.

    The key is parsed by its field (a forged cursor raises ValidationError/ValueError here,
    not a database error later).
    """
    queryset = keyset_order(queryset, key, descending)
    field = queryset.query.annotations[SORT_ALIAS].output_field
    value = field.get_prep_value(field.to_python(after_key))
    if value is None:
        raise ValueError("a cursor key cannot be null")
    comparison = RowComparison(
        (F(SORT_ALIAS), F("id")),
        "<" if descending else ">",
        (Value(value, output_field=field), Value(int(after_id))),
    )
    return queryset.filter(comparison)


def _is_valid_cursor(cursor: dict) -> bool:
    """Only what _encode_cursor can produce: a finite number or storable text as the key,
    a bigint id, a bool direction and an ordering name (the signature already vouches for
    that; this keeps a cursor signed by an older version of this code from reaching SQL)."""
    key = cursor["key"]
    key_ok = (
        (isinstance(key, str) and _is_storable_text(key) and len(key) <= 1000)
        or (isinstance(key, int) and not isinstance(key, bool) and abs(key) < 2**63)
        or (isinstance(key, float) and math.isfinite(key))
    )
    last_id = cursor["id"]
    id_ok = type(last_id) is int and 0 < last_id < 2**63
    return key_ok and id_ok and type(cursor["back"]) is bool and isinstance(cursor["ordering"], str)


def _is_storable_text(text: str) -> bool:
    """PostgreSQL text holds neither NUL nor unpaired surrogates (which UTF-8 cannot encode)."""
    return "\x00" not in text and not any("\ud800" <= char <= "\udfff" for char in text)


def _position(row) -> tuple:
    """A page row's (sort key, id): a model instance, or a dict from `.values()` (the read
    fast path, saas.api.values)."""
    if isinstance(row, dict):
        return row[SORT_ALIAS], row["id"]
    return getattr(row, SORT_ALIAS), row.pk


DEFAULT_ORDERINGS = {"created_at": Ordering.field("created_at")}
DEFAULT_ORDERING = "-created_at"


class KeysetPagination(BasePagination):
    """`?ordering=<name>|-<name>&page_size=N&cursor=...` -> `{next, previous, results}`.

    Views declare `orderings = {"created_at": Ordering.field("created_at"), ...}` and
    `default_ordering = "-created_at"`; ties are always broken by id, in the same direction.
    """

    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    cursor_query_param = "cursor"
    ordering_query_param = "ordering"

    def paginate_queryset(self, queryset: QuerySet, request, view=None):
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.page_size = self.get_page_size(request)
        cursor = self._decode_cursor(request)
        orderings = self._orderings(view)
        name, descending = self._ordering(request, view, cursor)
        spec = orderings[name]
        key = spec.desc if descending and spec.desc is not None else spec.asc
        backwards = bool(cursor and cursor["back"])

        # Walking backwards = walking forwards in the opposite direction, then reversing.
        going_down = descending != backwards
        if cursor is None:
            queryset = keyset_order(queryset, key, going_down)
        else:
            try:
                queryset = keyset_page(queryset, key, going_down, cursor["key"], cursor["id"])
            except (ValueError, TypeError, OverflowError, DjangoValidationError):
                raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None

        rows = list(queryset[: self.page_size + 1])
        has_more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if backwards:
            rows.reverse()
        self.page = rows
        # Forward: a next page if more rows followed; a previous one if we came from a cursor.
        self.has_next = has_more if not backwards else cursor is not None
        self.has_previous = cursor is not None if not backwards else has_more
        self.ordering_name = ("-" if descending else "") + name
        return rows

    def get_paginated_response(self, data):
        return Response(
            {"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        names = sorted(self._orderings(view))
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque cursor from a previous page's `next` or `previous`.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page (default {self.page_size}, at most {self.max_page_size}).",
                "schema": {"type": "integer"},
            },
            {
                "name": self.ordering_query_param,
                "required": False,
                "in": "query",
                "description": f"One of {', '.join(names)}, or with '-' for descending. "
                f"Default {getattr(view, 'default_ordering', DEFAULT_ORDERING)}.",
                "schema": {"type": "string", "enum": [*names, *(f"-{n}" for n in names)]},
            },
        ]

    # --- helpers --------------------------------------------------------------------------

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if not raw:  # absent or empty (`?page_size=`): the default, like every parameter here
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            raise ValidationError({self.page_size_query_param: ["Enter a whole number."]}) from None
        if size < 1:
            raise ValidationError({self.page_size_query_param: ["Must be at least 1."]})
        return min(size, self.max_page_size)

    @staticmethod
    def _orderings(view) -> dict[str, Ordering]:
        return getattr(view, "orderings", DEFAULT_ORDERINGS)

    def _ordering(self, request, view, cursor: dict | None) -> tuple[str, bool]:
        requested = request.query_params.get(self.ordering_query_param)
        if cursor and requested and requested != cursor["ordering"]:
            raise ValidationError(
                {self.cursor_query_param: ["This cursor belongs to another ordering."]}
            )
        raw = (
            requested
            or (cursor and cursor["ordering"])
            or getattr(view, "default_ordering", DEFAULT_ORDERING)
        )
        descending = raw.startswith("-")
        name = raw.removeprefix("-")
        orderings = self._orderings(view)
        if name not in orderings:
            allowed = ", ".join(sorted(orderings))
            raise ValidationError(
                {
                    self.ordering_query_param: [
                        f'Unknown ordering "{raw}". Use one of: {allowed} (prefix - for descending).'
                    ]
                }
            )
        return name, descending

    def _decode_cursor(self, request) -> dict | None:
        raw = request.query_params.get(self.cursor_query_param)
        if not raw:
            return None
        try:
            data = signing.loads(raw, salt=CURSOR_SALT)
            cursor = {"key": data["k"], "id": data["i"], "back": data["b"], "ordering": data["o"]}
        except (signing.BadSignature, KeyError, TypeError):
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None
        if not _is_valid_cursor(cursor):
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]})
        return cursor

    def _encode_cursor(self, row, back: bool) -> str:
        key, pk = _position(row)
        if hasattr(key, "isoformat"):
            key = key.isoformat()
        payload = {"k": key, "i": pk, "b": back, "o": self.ordering_name}
        return signing.dumps(payload, salt=CURSOR_SALT)

    def _link(self, row, back: bool) -> str:
        url = replace_query_param(
            self.base_url, self.cursor_query_param, self._encode_cursor(row, back)
        )
        return replace_query_param(url, self.ordering_query_param, self.ordering_name)

    def get_next_link(self) -> str | None:
        if not self.has_next or not self.page:
            return None
        return self._link(self.page[-1], back=False)

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        if not self.page:
            return remove_query_param(self.base_url, self.cursor_query_param)
        return self._link(self.page[0], back=True)
