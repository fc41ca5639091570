"""A ModelSerializer's output built from `.values()` rows: the read fast path of hot lists.

DRF builds a page of 50 tasks from model instances through ~40 field objects per row: ~15 ms
of Python for ~1 ms of SQL. `ValuesSerializer(TaskSerializer)` reads the serializer once and
compiles what each field needs: which column to select, and how DRF writes its value. Then a
page is one `.values()` query (nested one-to-one objects joined into it, as select_related
would) plus one query per nested many-to-many (as prefetch_related would), and each row is a
dict built by a short loop. The output is the serializer's, key for key: same keys in the same
order, values written by the fields' own `to_representation` (dates, times, time zones), nulls
where DRF writes them. tests/saas/api/test_values.py holds every supported field to that.

The serializer stays the source of the OpenAPI schema and the path for writes. Supported
fields: model columns, primary-key related fields, nested ModelSerializers over a forward
foreign key (flat fields only) and `many=True` ones over a forward many-to-many (in the related
model's `Meta.ordering`, which is the order DRF lists them in). Anything else (method fields,
dotted sources, `source="*"`) is refused when the plan is first compiled, not rendered wrong.
"""

from .serializer import ValuesSerializer

__all__ = ["ValuesSerializer"]
