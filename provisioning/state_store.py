"""The engine's StateStore on the Django ORM (one instance per organization).

The engine calls it from one thread only (the orchestrator's), so no
connection crosses threads. Stack names are unique per organization; the
engine's ``stack`` argument is the Stack's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from provisioning.engine.errors import LockLost, StackLocked
from provisioning.engine.state import LockInfo, ResourceState, ResourceStatus
from provisioning.models import Stack, StackLock, StackResource, StateVersion
from stackdock.models import Organization

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


def _ts(dt: datetime) -> float:
    return dt.timestamp()


def _tuple_to_state(row: Sequence[Any]) -> ResourceState:
    """A ``ResourceState`` from a ``values_list(*_COLUMNS)`` row."""
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


def _tuple_as_json(row: Sequence[Any]) -> dict[str, Any]:
    """``state_as_json`` of a ``values_list(*_COLUMNS)`` row, without the record."""
    return {
        "type": row[1],
        "provider": row[2],
        "dock": row[3],
        "inputs": row[4],
        "outputs": row[5],
        "provider_resource_id": row[6],
        "status": str(ResourceStatus(row[7])),
        "generation": row[9],
        "depends_on": list(row[10]),
        "deletion_policy": row[11],
    }


def to_state(row: StackResource) -> ResourceState:
    return ResourceState(
        name=row.name,
        type=row.type,
        provider=row.provider,
        dock=row.dock_ref,
        inputs=row.inputs,
        outputs=row.outputs,
        provider_resource_id=row.provider_resource_id,
        status=ResourceStatus(row.status),
        token=row.token,
        generation=row.generation,
        depends_on=tuple(row.depends_on),
        deletion_policy=row.deletion_policy,
        updated_at=row.engine_updated_at,
    )


def state_as_json(record: ResourceState) -> dict[str, Any]:
    return {
        "type": record.type,
        "provider": record.provider,
        "dock": record.dock,
        "inputs": record.inputs,
        "outputs": record.outputs,
        "provider_resource_id": record.provider_resource_id,
        "status": str(record.status),
        "generation": record.generation,
        "depends_on": list(record.depends_on),
        "deletion_policy": record.deletion_policy,
    }


class OrmStateStore:
    def __init__(self, org: Organization) -> None:
        self.org = org
        self._stack_ids: dict[str, int] = {}

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
        now = timezone.now()
        expires = now + timedelta(seconds=lease_seconds)
        with transaction.atomic():
            lock = StackLock.objects.select_for_update().filter(stack_id=stack_id).first()
            if lock is None:
                try:
                    with transaction.atomic():
                        StackLock.objects.create(
                            stack_id=stack_id, holder=holder, since=now, expires_at=expires
                        )
                    return
                except IntegrityError:  # somebody else created it a moment ago
                    lock = StackLock.objects.select_for_update().get(stack_id=stack_id)
            if lock.holder != holder and lock.expires_at > now:
                raise StackLocked(lock.holder, _ts(lock.since))
            since = lock.since if lock.holder == holder else now
            StackLock.objects.filter(stack_id=stack_id).update(
                holder=holder, since=since, expires_at=expires
            )

    def renew_lock(self, stack: str, holder: str, lease_seconds: float) -> None:
        updated = StackLock.objects.filter(stack_id=self._stack_id(stack), holder=holder).update(
            expires_at=timezone.now() + timedelta(seconds=lease_seconds)
        )
        if updated != 1:
            raise LockLost(stack, holder)

    def release_lock(self, stack: str, holder: str) -> None:
        StackLock.objects.filter(stack_id=self._stack_id(stack), holder=holder).delete()

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
        rows = StackResource.objects.filter(stack_id=self._stack_id(stack)).values_list(*_COLUMNS)
        return {row[0]: _tuple_to_state(row) for row in rows}

    def write(self, stack: str, puts: Sequence[ResourceState], deletes: Sequence[str]) -> None:
        stack_id = self._stack_id(stack)
        rows = [
            StackResource(
                stack_id=stack_id,
                name=r.name,
                type=r.type,
                provider=r.provider,
                dock_ref=str(r.dock),
                inputs=r.inputs,
                outputs=r.outputs,
                provider_resource_id=r.provider_resource_id,
                status=str(r.status),
                token=r.token,
                generation=r.generation,
                depends_on=list(r.depends_on),
                deletion_policy=r.deletion_policy,
                engine_updated_at=r.updated_at,
            )
            for r in puts
        ]
        with transaction.atomic():
            if deletes:
                StackResource.objects.filter(stack_id=stack_id, name__in=list(deletes)).delete()
            if rows:
                StackResource.objects.bulk_create(
                    rows,
                    batch_size=500,
                    update_conflicts=True,
                    unique_fields=["stack", "name"],
                    update_fields=_FIELDS,
                )

    def snapshot(self, stack: str, summary: dict[str, Any]) -> int:
        stack_id = self._stack_id(stack)
        with transaction.atomic():
            Stack.objects.select_for_update().filter(pk=stack_id).first()
            last = (
                StateVersion.objects.filter(stack_id=stack_id)
                .order_by("-number")
                .values_list("number", flat=True)
                .first()
            ) or 0
            rows = StackResource.objects.filter(stack_id=stack_id).values_list(*_COLUMNS)
            resources = {row[0]: _tuple_as_json(row) for row in sorted(rows, key=lambda r: r[0])}
            StateVersion.objects.create(
                stack_id=stack_id, number=last + 1, summary=summary, resources=resources
            )
        return last + 1


def lock_since(info: LockInfo) -> datetime:
    return datetime.fromtimestamp(info.since, tz=UTC)
