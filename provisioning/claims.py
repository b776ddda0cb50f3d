"""One manager per provider resource.

A provider resource is named, before it exists, by its dock, its type and the key
the provider tells it apart by (``ResourceType.key_fields``: a bucket's name). A
``ResourceClaim`` row holds that name for the one stack (a declared stack, or the
hidden stack of a single provision) that manages it, and a unique constraint keeps
it to one. So two stacks, two single provisions, or a stack and a single provision
can never both create, adopt or delete the same bucket.

* ``claim`` runs in the transaction that queues an operation which may create
  (provision, update, deploy): a name held by another record is refused with a
  409 naming it, before anything is queued; a name that sync found at the provider
  (a discovered row) is refused too, since a create would not take it over.
* ``settle`` runs in the transaction that ends an operation: the claims of what
  the stack's state holds stay, the rest are released (a failed first provision,
  a deleted resource, the old name of a replaced one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from docks.models import UNIVERSAL_MODELS, Dock, ProvisioningSource
from provisioning.engine.state import base_name
from provisioning.models import Operation, OperationStatus, ResourceClaim, Stack, StackKind
from provisioning.registry import get_registry
from stackdock.exceptions import Conflict, ValidationError


@dataclass(frozen=True)
class Wanted:
    """A resource an operation may create: its logical name and resolved properties."""

    resource: str
    dock: Dock
    type: str
    properties: Mapping[str, Any]


def claim(stack: Stack, wanted: Iterable[Wanted]) -> None:
    """Inside the caller's transaction: hold every key ``wanted`` names for ``stack``,
    or raise (nothing is held then: the caller's transaction rolls back)."""
    registry = get_registry()
    seen: dict[tuple[Any, str, str], str] = {}
    for want in wanted:
        rtype = registry.resource_type(want.dock.provider, want.type)
        key = rtype.key_of(want.properties)
        if key is None:
            continue
        ident = (want.dock.pk, want.type, key)
        other = seen.setdefault(ident, want.resource)
        if other != want.resource:
            raise ValidationError(
                f"Resources {other!r} and {want.resource!r} both name {want.type} {key!r} "
                f"on dock {want.dock.name!r}; one provider resource has one manager.",
                fields={f"spec.resources.{want.resource}": [f"names the same {want.type}"]},
            )
        held = (
            ResourceClaim.objects.select_for_update()
            .filter(dock=want.dock, resource_type=want.type, key=key)
            .select_related("stack")
            .first()
        )
        if held is not None:
            if held.stack_id == stack.pk and held.resource == want.resource:
                continue
            raise Conflict(_held_by(held, want, key), fields={"name": ["already managed"]})
        _refuse_discovered(want, key, rtype.key_fields, rtype.table)
        try:
            with transaction.atomic():
                ResourceClaim.objects.create(
                    org_id=stack.org_id,
                    dock=want.dock,
                    resource_type=want.type,
                    key=key,
                    stack=stack,
                    resource=want.resource,
                )
        except IntegrityError:
            raise Conflict(
                f"{want.type} {key!r} on dock {want.dock.name!r} is being claimed by "
                "another request at this moment.",
                fields={"name": ["already managed"]},
            ) from None


def settle(stack: Stack) -> None:
    """Inside the caller's transaction: release the claims of ``stack`` that its state
    no longer holds."""
    registry = get_registry()
    dock_ids: dict[str, Any] = {}
    for pk, name in Dock.objects.filter(org_id=stack.org_id).values_list("pk", "name"):
        dock_ids[str(pk)] = dock_ids[name] = pk
    keep: set[tuple[Any, str, str]] = set()
    for record in stack.resources.all():
        dock_id = dock_ids.get(record.dock_ref)
        key = registry.resource_type(record.provider, record.type).key_of(record.inputs)
        if dock_id is not None and key is not None:
            keep.add((dock_id, record.type, key))
    for held in ResourceClaim.objects.filter(stack=stack):
        if (held.dock_id, held.resource_type, held.key) not in keep:
            held.delete()


def _held_by(held: ResourceClaim, want: Wanted, key: str) -> str:
    what = f"{want.type} {key!r} on dock {want.dock.name!r} is already managed by StackDock"
    where = f"resource {held.resource!r} of stack {held.stack.name!r}"
    table = get_registry().resource_type(want.dock.provider, want.type).table
    if table is not None:
        row = (
            UNIVERSAL_MODELS[table]
            .objects.filter(
                org_id=held.org_id,
                sst_stack_name=held.stack.name,
                sst_resource_id=base_name(held.resource),
            )
            .first()
        )
        if row is not None and held.stack.kind == StackKind.SINGLE:
            where = f"{table} row {row.pk} (provisioned alone)"
        elif row is not None:
            where += f" ({table} row {row.pk})"
    active = (
        Operation.objects.filter(
            stack=held.stack, status__in=(OperationStatus.QUEUED, OperationStatus.RUNNING)
        )
        .order_by("created_at")
        .first()
    )
    if active is not None:
        where += f", by operation {active.pk} ({active.kind}, {active.status})"
    return f"{what}: {where}. Change that one, or choose another name."


def _refuse_discovered(
    want: Wanted, key: str, key_fields: tuple[str, ...], table: str | None
) -> None:
    if table is None or key_fields != ("name",):
        return
    found = (
        UNIVERSAL_MODELS[table]
        .objects.filter(
            dock=want.dock,
            resource_type=want.type,
            name__iexact=str(want.properties.get("name", "")),
        )
        .exclude(provisioning_source__in=(ProvisioningSource.API, ProvisioningSource.SST))
        .first()
    )
    if found is not None:
        raise Conflict(
            f"{want.type} {key!r} already exists on dock {want.dock.name!r}: sync found it "
            f"({table} row {found.pk}), and StackDock does not take over what it did not "
            f"create. Import it to manage it: stackdock import {table} {found.pk} (into a "
            f"stack: --stack NAME --as RESOURCE), POST /api/v1/{table}/{found.pk}/import, "
            "or Manage with StackDock on its page; or choose another name.",
            fields={"name": ["already exists at the provider"]},
        )
