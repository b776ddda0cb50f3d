"""Model instances from a hand-written statement's rows.

For the few hot statements the ORM cannot express in one round trip (an
``UPDATE ... RETURNING`` joined to related rows): the statement selects each
model's concrete columns in order (``columns``), and ``instance`` turns one
slice of a row into a model instance, each value converted the way the ORM
converts its own results (the backend's converters, then the field's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connection as default_connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

M = TypeVar("M", bound=Model)


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
    conn = connection or default_connection
    fields = model._meta.concrete_fields
    values = list(row[start : start + len(fields)])
    pk_index = next(i for i, field in enumerate(fields) if field.primary_key)
    if values[pk_index] is None:
        return None
    for i, field in enumerate(fields):
        col = field.get_col(model._meta.db_table)
        for convert in conn.ops.get_db_converters(col) + col.get_db_converters(conn):
            values[i] = convert(values[i], col, conn)
    return model.from_db(conn.alias, [field.attname for field in fields], values)
