"""The engine's StateStore on the Django ORM (one instance per organization).

The engine calls it from one thread only (the orchestrator's), so no
connection crosses threads. Stack names are unique per organization; the
engine's ``stack`` argument is the Stack's name.

The calls the engine makes while it runs - the lock, the write-ahead and
checkpoint writes, the snapshot, the release - are each **one** SQL
statement, written by hand: a step of a chain costs one ``write`` right
before its provider call, and there Django compiling an ``INSERT ... ON
CONFLICT`` and a transaction's BEGIN and COMMIT round trips were most of the
time. A single statement is atomic on its own; only a write that needs
several statements (a delete, or more than ``_ROWS_PER_STATEMENT`` records)
opens a transaction. The end of an operation - its last checkpoints, the
snapshot and the release - is one statement on PostgreSQL (data-modifying
CTEs), three on SQLite. The SQL is otherwise the same on both, except that
PostgreSQL needs ``::jsonb`` on JSON parameters.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from provisioning.engine.errors import LockLost, StackLocked
from provisioning.engine.state import LockInfo, ResourceState, ResourceStatus
from provisioning.models import Stack, StackLock, StackResource, StateVersion
from stackdock.models import Organization
from stackdock.utils.rows import db_time

_FIELDS = [
    "type",
    "provider",
    "dock_ref",
    "inputs",
    "outputs",
    "provider_resource_id",
    "status",
    "token",
    "generation",
    "depends_on",
    "deletion_policy",
    "engine_updated_at",
]
_COLUMNS = ["name", *_FIELDS]
_JSON_COLUMNS = frozenset({"inputs", "outputs", "depends_on"})
#: records per upsert statement (14 parameters each: far below both databases' limits)
_ROWS_PER_STATEMENT = 500

_RESOURCES = StackResource._meta.db_table
_LOCKS = StackLock._meta.db_table
_VERSIONS = StateVersion._meta.db_table

#: take the lock: insert it, or update it when it is ours (keeping ``since``) or expired
_ACQUIRE = f"""
INSERT INTO {_LOCKS} (stack_id, holder, since, expires_at) VALUES (%s, %s, %s, %s)
ON CONFLICT (stack_id) DO UPDATE SET
    since = CASE WHEN {_LOCKS}.holder = excluded.holder THEN {_LOCKS}.since
                 ELSE excluded.since END,
    holder = excluded.holder,
    expires_at = excluded.expires_at
WHERE {_LOCKS}.holder = excluded.holder OR {_LOCKS}.expires_at <= excluded.since
"""  # noqa: S608 - table names are constants; values are parameters
_RELEASE = f"DELETE FROM {_LOCKS} WHERE stack_id = %s AND holder = %s"  # noqa: S608


def _json_placeholder(vendor: str) -> str:
    return "%s::jsonb" if vendor == "postgresql" else "%s"


@functools.lru_cache(maxsize=32)  # the common sizes: a few records, a full chunk
def _upsert_sql(rows: int, vendor: str) -> str:
    j = _json_placeholder(vendor)
    placeholders = ", ".join(["%s", *(j if c in _JSON_COLUMNS else "%s" for c in _COLUMNS)])
    values = ", ".join([f"({placeholders})"] * rows)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _FIELDS)
    return (
        f"INSERT INTO {_RESOURCES} (stack_id, {', '.join(_COLUMNS)}) VALUES {values} "  # noqa: S608
        f"ON CONFLICT (stack_id, name) DO UPDATE SET {updates}"
    )


@functools.cache
def _snapshot_sql(vendor: str) -> str:
    j = _json_placeholder(vendor)
    # the next number and the row in one statement; the stack lock keeps two
    # snapshots of one stack from racing, the unique (stack, number) backs it up
    return (
        f"INSERT INTO {_VERSIONS} (stack_id, number, summary, resources, created_at) "  # noqa: S608
        f"SELECT %s, COALESCE(MAX(number), 0) + 1, {j}, {j}, %s FROM {_VERSIONS} "
        "WHERE stack_id = %s RETURNING number"
    )


@functools.lru_cache(maxsize=32)
def _final_sql(rows: int, release: bool) -> str:
    """PostgreSQL: the last upsert, the lock's release and the snapshot as one statement
    (data-modifying CTEs; SQLite has none and runs them as three statements)."""
    parts = []
    if rows:
        parts.append(f"upserted AS ({_upsert_sql(rows, 'postgresql')})")
    if release:
        parts.append(f"released AS ({_RELEASE})")
    return f"WITH {', '.join(parts)} {_snapshot_sql('postgresql')}"


def _execute(sql: str, params: Sequence[Any]) -> int:
    """Run one statement; the number of rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def _fetch_one(sql: str, params: Sequence[Any]) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return tuple(cursor.fetchone())


def _ts(dt: datetime) -> float:
    return dt.timestamp()


_LOAD = f"SELECT {', '.join(_COLUMNS)} FROM {_RESOURCES} WHERE stack_id = %s"  # noqa: S608
_JSON_AT = tuple(i for i, column in enumerate(_COLUMNS) if column in _JSON_COLUMNS)


def _decode_json(row: Sequence[Any]) -> list[Any]:
    """A raw ``_LOAD`` row with its JSON columns decoded (both databases hand them over
    as text, as Django's own JSONField does before ``from_db_value``)."""
    values = list(row)
    for i in _JSON_AT:
        if isinstance(values[i], str | bytes):
            values[i] = json.loads(values[i])
    return values


def _tuple_to_state(row: Sequence[Any]) -> ResourceState:
    """A ``ResourceState`` from a row of ``_COLUMNS`` (JSON decoded)."""
    (name, type_, provider, dock, inputs, outputs, prid, status, token, generation, depends_on,
     deletion_policy, updated_at) = row  # fmt: skip
    return ResourceState(
        name=name,
        type=type_,
        provider=provider,
        dock=dock,
        inputs=inputs,
        outputs=outputs,
        provider_resource_id=prid,
        status=ResourceStatus(status),
        token=token,
        generation=generation,
        depends_on=tuple(depends_on),
        deletion_policy=deletion_policy,
        updated_at=updated_at,
    )


def _row_params(stack_id: int, r: ResourceState) -> list[Any]:
    return [
        stack_id,
        r.name,
        r.type,
        r.provider,
        str(r.dock),
        json.dumps(r.inputs),
        json.dumps(r.outputs),
        r.provider_resource_id,
        str(r.status),
        r.token,
        r.generation,
        json.dumps(list(r.depends_on)),
        r.deletion_policy,
        r.updated_at,
    ]


def state_as_json(record: ResourceState) -> dict[str, Any]:
    """A record as a StateVersion keeps it (the dock as stored: text)."""
    return {
        "type": record.type,
        "provider": record.provider,
        "dock": str(record.dock),
        "inputs": record.inputs,
        "outputs": record.outputs,
        "provider_resource_id": record.provider_resource_id,
        "status": str(record.status),
        "generation": record.generation,
        "depends_on": list(record.depends_on),
        "deletion_policy": record.deletion_policy,
    }


class OrmStateStore:
    def __init__(self, org: Organization, *, stacks: Mapping[str, int] | None = None) -> None:
        """``stacks``: ids of stacks the caller has at hand (name -> id), to skip a lookup."""
        self.org = org
        self._stack_ids: dict[str, int] = dict(stacks or {})

    def _stack_id(self, name: str) -> int:
        if name not in self._stack_ids:
            pk = Stack.objects.filter(org=self.org, name=name).values_list("pk", flat=True).first()
            if pk is None:
                raise LookupError(f"stack {name!r} does not exist")
            self._stack_ids[name] = pk
        return self._stack_ids[name]

    # --- lock --------------------------------------------------------------
    def acquire_lock(self, stack: str, holder: str, lease_seconds: float) -> None:
        stack_id = self._stack_id(stack)
        current = None
        for _ in range(3):
            now = timezone.now()
            expires = now + timedelta(seconds=lease_seconds)
            if _execute(_ACQUIRE, [stack_id, holder, db_time(now), db_time(expires)]) == 1:
                return
            current = (
                StackLock.objects.filter(stack_id=stack_id).values_list("holder", "since").first()
            )
            if current is not None:
                raise StackLocked(current[0], _ts(current[1]))
            # released between the two statements: try again
        raise StackLocked("another operation", _ts(timezone.now()))

    def renew_lock(self, stack: str, holder: str, lease_seconds: float) -> None:
        updated = StackLock.objects.filter(stack_id=self._stack_id(stack), holder=holder).update(
            expires_at=timezone.now() + timedelta(seconds=lease_seconds)
        )
        if updated != 1:
            raise LockLost(stack, holder)

    def release_lock(self, stack: str, holder: str) -> None:
        _execute(_RELEASE, [self._stack_id(stack), holder])

    def force_unlock(self, stack: str) -> LockInfo | None:
        with transaction.atomic():
            lock = (
                StackLock.objects.select_for_update().filter(stack_id=self._stack_id(stack)).first()
            )
            if lock is None:
                return None
            info = LockInfo(lock.holder, _ts(lock.since), _ts(lock.expires_at))
            lock.delete()
            return info

    def lock_info(self, stack: str) -> LockInfo | None:
        lock = StackLock.objects.filter(stack_id=self._stack_id(stack)).first()
        if lock is None:
            return None
        return LockInfo(lock.holder, _ts(lock.since), _ts(lock.expires_at))

    # --- state -------------------------------------------------------------
    def load(self, stack: str) -> dict[str, ResourceState]:
        # hand-written: this runs at the start of every operation, and building the
        # ORM's query cost more than running it
        with connection.cursor() as cursor:
            cursor.execute(_LOAD, [self._stack_id(stack)])
            rows = cursor.fetchall()
        return {row[0]: _tuple_to_state(_decode_json(row)) for row in rows}

    def write(self, stack: str, puts: Sequence[ResourceState], deletes: Sequence[str]) -> None:
        stack_id = self._stack_id(stack)
        chunks = [
            puts[i : i + _ROWS_PER_STATEMENT] for i in range(0, len(puts), _ROWS_PER_STATEMENT)
        ]
        if not deletes and len(chunks) <= 1:
            for chunk in chunks:  # one statement: atomic by itself, no BEGIN/COMMIT
                self._upsert(stack_id, chunk)
            return
        with transaction.atomic():
            if deletes:
                StackResource.objects.filter(stack_id=stack_id, name__in=list(deletes)).delete()
            for chunk in chunks:
                self._upsert(stack_id, chunk)

    @staticmethod
    def _upsert(stack_id: int, records: Sequence[ResourceState]) -> None:
        params = [p for r in records for p in _row_params(stack_id, r)]
        _execute(_upsert_sql(len(records), connection.vendor), params)

    def snapshot(
        self,
        stack: str,
        summary: dict[str, Any],
        records: Mapping[str, ResourceState],
        *,
        puts: Sequence[ResourceState] = (),
        deletes: Sequence[str] = (),
        release: str | None = None,
    ) -> int:
        stack_id = self._stack_id(stack)
        resources = {name: state_as_json(records[name]) for name in sorted(records)}
        params = [
            stack_id,
            json.dumps(summary),
            json.dumps(resources),
            db_time(timezone.now()),
            stack_id,
        ]
        one_statement = (
            connection.vendor == "postgresql"
            and not deletes
            and len(puts) <= _ROWS_PER_STATEMENT
            and (puts or release is not None)
        )
        if one_statement:  # the usual end of an operation: one round trip, one commit
            head = [p for r in puts for p in _row_params(stack_id, r)]
            if release is not None:
                head += [stack_id, release]
            (number,) = _fetch_one(_final_sql(len(puts), release is not None), head + params)
            return int(number)
        if puts or deletes:
            self.write(stack, puts, deletes)
        (number,) = _fetch_one(_snapshot_sql(connection.vendor), params)
        if release is not None:
            _execute(_RELEASE, [stack_id, release])
        return int(number)
