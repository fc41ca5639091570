"""ValuesSerializer: the page query's columns, then the serializer's output from its rows."""

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.db import connections, models, router
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import serializers

from .fields import Column, IsoDateTime, column_of, flat_columns, ordering_of


@dataclass(frozen=True)
class _Plan:
    """A serializer compiled: its fields in order, the page query's own columns (nested
    objects aside), the primary key."""

    steps: tuple
    columns: tuple[str, ...]
    pk: str


@dataclass(frozen=True)
class _Nested:
    """A nested object over a foreign key. Joined into the page query (`fk__column`) where
    the queryset select_related() it, as the serializer path did; otherwise the page selects
    the key alone and one query per page reads the objects the page points at (the live task
    list never joins `deleted_by`, always null there: an outer join that could only mislead
    the planner)."""

    name: str
    fk: str
    nullable: bool
    model: type[models.Model]
    pk_column: str
    fields: tuple[Column, ...]  # columns prefixed `fk__`, as joined
    direct: tuple[Column, ...]  # the same, read from the related table itself

    def joined_columns(self) -> list[str]:
        return [self.pk_column, *(column.column for column in self.fields)]

    def is_joined_by(self, queryset: QuerySet) -> bool:
        related = queryset.query.select_related
        if related is True:  # select_related() without names: the non-null keys
            return not self.nullable
        return isinstance(related, dict) and self.fk in related


@dataclass(frozen=True)
class _Many:
    """A nested list over a many-to-many: one query on the through table per page."""

    name: str
    through: type[models.Model]
    owner: str  # the through table's column pointing at the listed rows
    ordering: tuple[str, ...]
    fields: tuple[Column, ...]
    sql: str | None  # the same query as plain SQL, when it reads exactly what the ORM would


def _many_sql(model_field: models.ManyToManyField, fields: tuple, ordering: tuple) -> str | None:
    """`SELECT owner, <fields> FROM through, LATERAL (target's row) WHERE owner = ANY(%s)
    ORDER BY ...`.

    Once per page on every list: compiling it with the ORM costs ~1 ms of Python (an `IN`
    of 50 parameters, each resolved), PostgreSQL answers it in ~0.1 ms. Plain SQL only where
    it returns what the ORM returns: a through table read by a plain manager, plain columns of the
    target without value converters, an ordering by such columns; None otherwise (the ORM).

    The target's row is looked up per through row (LATERAL; its LIMIT keeps the planner from
    flattening it into a join), so the query reads the page's rows whatever the statistics say.
    As a plain join, a users histogram older than the newest users (ids past its last bound)
    made a merge join look cheap: it walked the through table's whole `user_id` index, 32 ms
    at 75,000 assignments against 0.24 ms for the same page looked up row by row.
    """
    through, target = model_field.remote_field.through, model_field.related_model
    # A declared through model reads like an auto-created one unless its default manager
    # narrows or changes its rows.
    manager = type(through._default_manager)
    if manager.get_queryset is not models.Manager.get_queryset:
        return None
    connection = connections[router.db_for_read(through)]
    quote = connection.ops.quote_name
    owner = through._meta.get_field(model_field.m2m_field_name()).column
    target_fk = through._meta.get_field(model_field.m2m_reverse_field_name()).column
    columns = []
    prefix = f"{model_field.m2m_reverse_field_name()}__"
    for column in fields:
        field = target._meta.get_field(column.column.removeprefix(prefix))
        if not field.concrete or field.is_relation or field.get_db_converters(connection):
            return None
        if connection.ops.get_db_converters(field.cached_col):
            return None
        columns.append(quote(field.column))
    order = []
    for item in ordering:
        name = item.removeprefix("-").removeprefix(prefix)
        try:
            field = target._meta.get_field(name)
        except Exception:
            return None
        if not field.concrete or field.is_relation:
            return None
        order.append((quote(field.column), "DESC" if item.startswith("-") else "ASC"))
    # The lookup returns the listed columns and those of the ordering, each once.
    read = dict.fromkeys([*columns, *(column for column, _ in order)])
    return (
        f"SELECT t.{quote(owner)}, {', '.join(f'u.{column}' for column in columns)}"
        f" FROM {quote(through._meta.db_table)} t"
        f" CROSS JOIN LATERAL (SELECT {', '.join(read)} FROM {quote(target._meta.db_table)}"
        f" WHERE {quote(target._meta.pk.column)} = t.{quote(target_fk)} LIMIT 1) u"
        f" WHERE t.{quote(owner)} = ANY(%s)"
        + (f" ORDER BY {', '.join(f'u.{c} {d}' for c, d in order)}" if order else "")
    )


class ValuesSerializer:
    """`ValuesSerializer(SomeModelSerializer)`: `.values(queryset)` for the page query, then
    `.to_representation(rows)` for what `SomeModelSerializer(instances, many=True).data` is."""

    def __init__(self, serializer_class: type[serializers.ModelSerializer]):
        self.serializer_class = serializer_class
        self._compiled = None

    def _compile(self):
        # On first use: serializer fields need the app registry, which is not ready at import.
        serializer = self.serializer_class()
        model = serializer.Meta.model
        steps, columns = [], [model._meta.pk.attname]
        for name, field in serializer.fields.items():
            if field.write_only:
                continue
            if isinstance(field, serializers.ListSerializer):
                model_field = model._meta.get_field(field.source)
                if not (model_field.many_to_many and not model_field.auto_created):
                    raise ImproperlyConfigured(f"{name}: only a forward many-to-many is supported.")
                child = field.child
                through = model_field.remote_field.through
                target = model_field.m2m_reverse_field_name()
                ordering = ordering_of(child.Meta.model, f"{target}__")
                fields = flat_columns(child, f"{target}__")
                steps.append(
                    _Many(
                        name=name,
                        through=through,
                        owner=model_field.m2m_field_name(),
                        ordering=ordering,
                        fields=fields,
                        sql=_many_sql(model_field, fields, ordering),
                    )
                )
            elif isinstance(field, serializers.ModelSerializer):
                model_field = model._meta.get_field(field.source)
                if (
                    not (model_field.many_to_one or model_field.one_to_one)
                    or model_field.auto_created
                ):
                    raise ImproperlyConfigured(f"{name}: only a forward foreign key is supported.")
                prefix = f"{field.source}__"
                related = field.Meta.model
                steps.append(
                    _Nested(
                        name=name,
                        fk=field.source,
                        nullable=model_field.null,
                        model=related,
                        pk_column=prefix + related._meta.pk.attname,
                        fields=flat_columns(field, prefix),
                        direct=flat_columns(field, ""),
                    )
                )
            else:
                column = column_of(field, model)
                steps.append(column)
                columns.append(column.column)
        return _Plan(tuple(steps), tuple(dict.fromkeys(columns)), model._meta.pk.attname)

    @property
    def _plan(self) -> "_Plan":
        if self._compiled is None:
            self._compiled = self._compile()
        return self._compiled

    @property
    def columns(self) -> tuple[str, ...]:
        """What the page query selects with every nested object joined."""
        nested = [step for step in self._plan.steps if type(step) is _Nested]
        joined = [column for step in nested for column in step.joined_columns()]
        return tuple(dict.fromkeys([*self._plan.columns, *joined]))

    def values(self, queryset: QuerySet) -> QuerySet:
        """The queryset's rows as dicts of the columns the serializer reads; its filters,
        ordering and annotations are kept, and the nested objects it select_related() are
        joined (prefetches are done by to_representation)."""
        columns = list(self._plan.columns)
        for step in self._plan.steps:
            if type(step) is _Nested:
                columns += step.joined_columns() if step.is_joined_by(queryset) else [step.fk]
        return queryset.prefetch_related(None).values(*dict.fromkeys(columns))

    def to_representation(self, rows: list[dict]) -> list[dict]:
        """What the serializer writes for these rows (from `values()`), in their order."""
        plan = self._plan
        zone = timezone.get_current_timezone()
        ids = [row[plan.pk] for row in rows]
        steps = []
        for step in plan.steps:
            if type(step) is Column:
                steps.append((_COLUMN, step.name, step.column, _bound(step.convert, zone)))
            elif type(step) is _Nested and (not rows or step.pk_column in rows[0]):
                steps.append((_NESTED, step.name, step.pk_column, _bound_all(step.fields, zone)))
            elif type(step) is _Nested:
                keys = {row[step.fk] for row in rows} - {None}
                objects = self._fetch_by_key(step, keys, zone) if keys else {}
                steps.append((_BY_KEY, step.name, step.fk, objects))
            else:
                items = self._fetch_many(step, ids, zone) if ids else {}
                steps.append((_MANY, step.name, plan.pk, items))
        return [_build(steps, row) for row in rows]

    @staticmethod
    def _fetch_by_key(step: _Nested, keys: set, zone) -> dict:
        """The nested objects the page points at, by key (as Django reads a foreign key that
        was not select_related: the related model's base manager)."""
        fields = _bound_all(step.direct, zone)
        pk = step.model._meta.pk.attname
        rows = step.model._base_manager.filter(pk__in=keys).values(
            pk, *(column.column for column in step.direct)
        )
        return {row[pk]: _object(fields, row) for row in rows}

    @staticmethod
    def _fetch_many(step: _Many, ids: list, zone) -> dict:
        """The nested objects of every row, by row id, in the related model's order."""
        fields = _bound_all(step.fields, zone)
        if step.sql is not None:
            with connections[router.db_for_read(step.through)].cursor() as cursor:
                cursor.execute(step.sql, [ids])
                pairs = cursor.fetchall()
        else:
            pairs = (
                step.through._default_manager.filter(**{f"{step.owner}__in": ids})
                .order_by(*step.ordering)
                .values_list(step.owner, *(column.column for column in step.fields))
            )
        by_owner: dict = {}
        for owner, *values in pairs:
            item = {}
            for (name, _, convert), value in zip(fields, values, strict=True):
                item[name] = value if value is None or convert is None else convert(value)
            by_owner.setdefault(owner, []).append(item)
        return by_owner


_COLUMN, _NESTED, _BY_KEY, _MANY = range(4)


def _bound(convert, zone):
    return convert.bind(zone) if isinstance(convert, IsoDateTime) else convert


def _bound_all(columns: tuple[Column, ...], zone) -> tuple:
    return tuple((column.name, column.column, _bound(column.convert, zone)) for column in columns)


def _object(fields: tuple, row: dict) -> dict:
    """One flat object: DRF writes None for a null, else the field's representation."""
    out = {}
    for name, column, convert in fields:
        value = row[column]
        out[name] = value if value is None or convert is None else convert(value)
    return out


def _build(steps: list, row: dict) -> dict:
    out = {}
    for kind, name, column, extra in steps:
        if kind == _COLUMN:
            value = row[column]
            out[name] = value if value is None or extra is None else extra(value)
        elif kind == _NESTED:
            # A null foreign key (the LEFT JOIN found nothing) is a null object, as in DRF.
            out[name] = None if row[column] is None else _object(extra, row)
        elif kind == _BY_KEY:
            key = row[column]
            out[name] = None if key is None else extra[key]
        else:
            out[name] = extra.get(row[column], [])
    return out
