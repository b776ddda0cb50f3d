"""Hand-written statements: model instances from their rows, datetimes as their
parameters.

For the few hot statements the ORM cannot express in one round trip (an
``UPDATE ... RETURNING`` joined to related rows): the statement selects each
model's concrete columns in order (``columns``), and ``instance`` turns one
slice of a row into a model instance, each value converted the way the ORM
converts its own results (the backend's converters, then the field's).
``db_time`` adapts a datetime parameter the way the ORM would (SQLite stores
text).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

M = TypeVar("M", bound=Model)


def db_time(moment: Any) -> Any:
    """``moment`` as a parameter of a hand-written statement on this connection."""
    return connections[DEFAULT_DB_ALIAS].ops.adapt_datetimefield_value(moment)


def columns(model: type[Model], alias: str) -> list[str]:
    """``alias."column"`` for each concrete field of ``model``, in ``instance``'s order."""
    return [f'{alias}."{field.column}"' for field in model._meta.concrete_fields]


def width(model: type[Model]) -> int:
    return len(model._meta.concrete_fields)


def instance(
    model: type[M],
    row: Sequence[Any],
    start: int = 0,
    connection: BaseDatabaseWrapper | None = None,
) -> M | None:
    """The instance in ``row[start:start + width(model)]``; None when its primary key
    is NULL (the missing side of a LEFT JOIN)."""
    conn = connection or connections[DEFAULT_DB_ALIAS]  # this thread's, not the proxy
    shape = _shape(model, conn)
    values = list(row[start : start + len(shape.attnames)])
    if values[shape.pk_index] is None:
        return None
    for i, col, converters in shape.converters:
        for convert in converters:
            values[i] = convert(values[i], col, conn)
    return model.from_db(conn.alias, shape.attnames, values)


@dataclass(frozen=True)
class _Shape:
    attnames: list[str]
    pk_index: int
    #: (position, column expression, converters) of each field that has converters
    converters: list[tuple[int, Any, list[Any]]]


#: per connection (a backend's converters may be bound to it), per model
_shapes: weakref.WeakKeyDictionary[BaseDatabaseWrapper, dict[type[Model], _Shape]] = (
    weakref.WeakKeyDictionary()
)


def _shape(model: type[Model], conn: BaseDatabaseWrapper) -> _Shape:
    by_model = _shapes.setdefault(conn, {})
    shape = by_model.get(model)
    if shape is None:
        fields = model._meta.concrete_fields
        converters = []
        for i, field in enumerate(fields):
            col = field.get_col(model._meta.db_table)
            found = conn.ops.get_db_converters(col) + col.get_db_converters(conn)
            if found:
                converters.append((i, col, found))
        pk_index = next(i for i, field in enumerate(fields) if field.primary_key)
        shape = by_model[model] = _Shape([f.attname for f in fields], pk_index, converters)
    return shape
