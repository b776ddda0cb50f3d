"""Change markers for the universal tables: what lets a list page be cached safely.

Every write to a universal table - a row's ``save``/``delete``, a queryset's
``update``/``delete``/``bulk_create``/``bulk_update`` - and every change of a
Dock or an Organization (a rename shows in the rows' ``dock_name``; deleting
one cascades or sets ``dock`` to NULL without touching the rows' own code)
replaces the table's marker in the shared cache with a new random value. A
cached list page remembers the marker it was built under and is used only
while the marker is unchanged (docks.api.list_cache).

The marker is replaced twice: at once, so a reader in the same transaction
(or a test) never sees a page from before its own write; and again after the
commit, so a page that another process built from the database in between,
before the new rows were visible, is dropped too. Within one transaction the
after-commit replacements are gathered into one callback.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction

from stackdock.permissions import TenantQuerySet

KEY = "stackdock:rows-changed:{table}"


def marker_key(table: str) -> str:
    return KEY.format(table=table)


def all_tables() -> tuple[str, ...]:
    from docks.models import UNIVERSAL_MODELS

    return tuple(UNIVERSAL_MODELS)


def table_of(model: type[Any]) -> str:
    from docks.models import UNIVERSAL_MODELS

    for table, cls in UNIVERSAL_MODELS.items():
        if issubclass(model, cls):
            return table
    raise LookupError(f"{model.__name__} is not a universal table")


def _replace(tables: Iterable[str]) -> None:
    cache.set_many({marker_key(t): uuid.uuid4().hex for t in tables}, timeout=None)


class _AfterCommit:
    """One transaction's after-commit replacement; tables are added while it waits."""

    def __init__(self) -> None:
        self.tables: set[str] = set()

    def __call__(self) -> None:
        _replace(self.tables)


def rows_changed(*tables: str) -> None:
    """``tables`` were written (or are about to be, in this transaction)."""
    if not tables:
        return
    _replace(tables)
    if not connection.in_atomic_block:
        return  # autocommit: the write is already visible
    # reuse this transaction's callback while it is still queued (a rollback drops it)
    pending = next((e[1] for e in connection.run_on_commit if isinstance(e[1], _AfterCommit)), None)
    if pending is None:
        pending = _AfterCommit()
        transaction.on_commit(pending)
    pending.tables.update(tables)


def current_markers(tables: Iterable[str]) -> dict[str, str]:
    """Each table's marker, setting one where the cache has none (new or evicted)."""
    keys = {marker_key(t): t for t in tables}
    found = cache.get_many(list(keys))
    missing = {k: uuid.uuid4().hex for k in keys if k not in found}
    for key, value in missing.items():
        if not cache.add(key, value, timeout=None):  # somebody else set it first
            value = cache.get(key) or value
        found[key] = value
    return {keys[k]: v for k, v in found.items()}


class UniversalQuerySet(TenantQuerySet):
    """The universal tables' queryset: bulk writes replace the table's marker."""

    def _changed(self) -> None:
        rows_changed(table_of(self.model))

    def update(self, **kwargs: Any) -> int:
        self._changed()
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        self._changed()
        return super().delete()

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> Any:
        self._changed()
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs: Any, fields: Any, *args: Any, **kwargs: Any) -> int:
        self._changed()
        return super().bulk_update(objs, fields, *args, **kwargs)


class DockQuerySet(TenantQuerySet):
    """Docks: renaming or deleting them in bulk changes what universal rows show."""

    def update(self, **kwargs: Any) -> int:
        if "name" in kwargs:
            rows_changed(*all_tables())
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        rows_changed(*all_tables())
        return super().delete()


def dock_or_org_changed(sender: Any, **kwargs: Any) -> None:
    """A Dock or Organization was saved or deleted: every table's rows may read differently."""
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and not ({"name", "slug"} & set(update_fields)):
        return  # e.g. a sync's status or a timestamp: nothing a row shows
    rows_changed(*all_tables())
