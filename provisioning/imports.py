"""Import instead of silent adoption (docs/ENGINE.md, "What StackDock promises", 7).

A resource that sync found at the provider (a universal row whose
``provisioning_source`` is neither ``api`` nor ``sst``) comes under StackDock's
management only when someone asks for it:

* ``import_single``: as a single managed resource, the way ``resource_provision``
  makes one (a hidden one-resource stack);
* ``import_into_stack``: into a declared stack under a logical name: the stack's
  stored spec gains the resource with the properties read from the provider.

Either way the resource is read from its provider (``Adapter.read_back``, which only
reads) before anything is written, what was read is validated with the type's spec
model, and then, in one transaction: the row is locked and checked to be still
discovered, the ``ResourceClaim`` of its key is taken (409 when another record holds
it), the state record is written (status ``created``, the read properties as its
inputs, so the next plan of it is a no-op), the row turns managed, and the import is
audited (``resource.import``). Nothing is queued and no provider call changes
anything. Permissions are the caller's (``provisioning.services``) to check.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.db import transaction
from django.utils import timezone

from audit.services import audit_log, redact
from docks.adapters.base import NotImportable as AdapterNotImportable
from docks.adapters.base import ProviderError, ReadBack, ResourceType
from docks.models import (
    UNIVERSAL_MODELS,
    Dock,
    ProvisioningSource,
    ProvisioningState,
    universal_columns,
)
from docks.services import dock_credentials
from provisioning import claims, limits
from provisioning.engine.errors import SpecError
from provisioning.engine.planner import effective
from provisioning.engine.spec import RESOURCE_NAME
from provisioning.engine.state import ResourceState, ResourceStatus, base_name, make_token
from provisioning.models import FailurePolicy, Stack, StackKind, StackResource
from provisioning.registry import get_registry
from provisioning.state_store import OrmStateStore
from stackdock.exceptions import (
    Conflict,
    NotFound,
    NotImportable,
    ProviderUnavailable,
    ValidationError,
)
from stackdock.permissions import Actor


@dataclass(frozen=True)
class Imported:
    """What an import did: the row now managed, and by what."""

    table: str
    row: Any
    stack: Stack
    resource: str
    properties: dict[str, Any]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Read:
    """A resource as read from its provider, validated."""

    dock: Dock
    rtype: ResourceType
    back: ReadBack
    #: the properties as a spec holds them (what the user would have written)
    clean: dict[str, Any]
    #: the properties as state records them (every field, the dock's defaults filled in)
    inputs: dict[str, Any]


def import_single(*, actor: Actor, table: str, row: Any) -> Imported:
    """Manage ``row`` as a single resource (like one made by ``resource_provision``)."""
    from provisioning.services import _single_doc

    read = _read(actor, table, row)
    with transaction.atomic():
        locked = _lock_row(table, row)
        stack_name = f"_single-{table}-{uuid.uuid4().hex[:12]}"
        stack = Stack.objects.create(
            org=row.org,
            name=stack_name,
            kind=StackKind.SINGLE,
            on_failure=FailurePolicy.ROLLBACK,
            spec=_single_doc(stack_name, read.dock, row.resource_type, read.clean),
            created_by=actor.user if not actor.is_system else None,
        )
        _take(actor, table, locked, read, stack, "resource", dock_ref=str(read.dock.pk))
    return _imported(table, row, read, stack, "resource")


def import_into_stack(
    *, actor: Actor, stack: Stack, table: str, row: Any, resource: str
) -> Imported:
    """Add ``row`` to ``stack`` as ``resource``: its spec gains the resource as read."""
    from provisioning.services import _check_not_locked, stack_parse

    if stack.kind != StackKind.STACK:
        raise NotFound()
    if not isinstance(resource, str) or not RESOURCE_NAME.match(resource):
        raise ValidationError(
            f"{resource!r} is not a valid resource name.",
            fields={"resource": ["use 1-63 lowercase letters, digits, - or _, starting a-z"]},
        )
    read = _read(actor, table, row)
    with transaction.atomic():
        locked_stack = Stack.objects.select_for_update().get(pk=stack.pk)
        _check_not_locked(locked_stack)
        doc = dict(locked_stack.spec)
        resources = dict(doc.get("resources") or {})
        held = {base_name(n) for n in locked_stack.resources.values_list("name", flat=True)}
        if resource in resources or resource in held:
            raise Conflict(
                f"Stack {stack.name!r} already has a resource {resource!r}; choose another name.",
                fields={"resource": ["already in the stack"]},
            )
        locked = _lock_row(table, row)
        resources[resource] = {
            "dock": read.dock.name,
            "type": row.resource_type,
            "properties": read.clean,
        }
        doc["resources"] = resources
        text = _rewritten(doc, locked_stack.spec_text)
        # the document grown by the import is held to the limits of any stack document,
        # and must still hold as a whole
        limits.check_document_size(limits.document_size(text))
        stack_parse(actor=actor, org=stack.org, doc=doc, max_resources=limits.max_resources())
        locked_stack.spec = doc
        locked_stack.spec_text = text
        locked_stack.save(update_fields=["spec", "spec_text", "updated_at"])
        _take(actor, table, locked, read, locked_stack, resource, dock_ref=read.dock.name)
    return _imported(table, row, read, locked_stack, resource)


# --- reading -----------------------------------------------------------------------------


def _read(actor: Actor, table: str, row: Any) -> _Read:
    """Check that ``row`` can be imported, and read it from its provider (outside any
    transaction: no lock is held while the provider answers)."""
    _refuse_managed(row)
    dock = row.dock
    if dock is None:
        raise Conflict(f"{row.name!r} has no dock any more; it cannot be imported.")
    if not row.provider_resource_id:
        raise Conflict(f"{row.name!r} has no provider id; sync its dock first.")
    try:
        rtype = get_registry().resource_type(row.provider, row.resource_type)
    except Exception:
        raise NotImportable(
            f"StackDock has no resource type {row.resource_type!r} for {row.provider}; "
            f"{row.name!r} cannot be imported."
        ) from None
    if rtype.table != table:
        raise NotFound()
    what = f"{row.resource_type} {row.name!r}"
    try:
        back = _adapter(actor, dock).read_back(row.resource_type, row.provider_resource_id)
    except AdapterNotImportable as exc:
        raise NotImportable(f"{what} cannot be imported: {exc.message}.") from None
    except ProviderError as exc:
        raise ProviderUnavailable(
            f"Could not read {what} from dock {dock.name!r}: {exc.message}. Nothing changed."
        ) from None
    if back is None:
        raise Conflict(
            f"{what} no longer exists at the provider; the next sync of dock "
            f"{dock.name!r} removes its row."
        )
    try:
        model = get_registry().validate(
            row.provider, row.resource_type, back.properties, path="properties"
        )
    except SpecError as exc:
        problems = "; ".join(f"{path}: {message}" for path, message in exc.errors)
        raise NotImportable(
            f"{what} cannot be imported: what the provider reports does not fit StackDock's "
            f"{row.resource_type} spec ({problems})."
        ) from None
    return _Read(
        dock=dock,
        rtype=rtype,
        back=back,
        clean=model.model_dump(mode="json", exclude_none=True),
        inputs=effective(model.model_dump(mode="json"), rtype, dock.defaults or {}),
    )


def _adapter(actor: Actor, dock: Dock) -> Any:
    cls = get_registry().adapter_class(dock.provider)
    creds = {} if cls.credentialless else dock_credentials(dock=dock, actor=actor, purpose="import")
    return cls(creds, dock.endpoint_url or None)


# --- writing -----------------------------------------------------------------------------


def _refuse_managed(row: Any) -> None:
    if row.provisioning_source == ProvisioningSource.SST:
        raise Conflict(
            f"{row.name!r} is already managed by StackDock: resource {row.sst_resource_id!r} "
            f"of stack {row.sst_stack_name!r}.",
            fields={"id": ["already managed"]},
        )
    if row.provisioning_source == ProvisioningSource.API:
        raise Conflict(
            f"{row.name!r} is already managed by StackDock (provisioned alone).",
            fields={"id": ["already managed"]},
        )


def _lock_row(table: str, row: Any) -> Any:
    """Inside the transaction: the row, locked, still discovered and the same resource."""
    locked = UNIVERSAL_MODELS[table].objects.select_for_update().filter(pk=row.pk).first()
    if locked is None or locked.provider_resource_id != row.provider_resource_id:
        raise Conflict(f"{row.name!r} changed while it was being read; try again.")
    _refuse_managed(locked)
    return locked


def _refuse_held_in_state(row: Any, dock: Dock) -> None:
    """A stack's state that already records this provider resource manages it, whatever
    its row says (types without a key, like EC2 instances, have no claim)."""
    held = (
        StackResource.objects.filter(
            stack__org_id=row.org_id,
            type=row.resource_type,
            provider_resource_id=row.provider_resource_id,
            dock_ref__in=[str(dock.pk), dock.name],
        )
        .select_related("stack")
        .first()
    )
    if held is not None:
        where = (
            "a single provision"
            if held.stack.kind == StackKind.SINGLE
            else f"resource {held.name!r} of stack {held.stack.name!r}"
        )
        raise Conflict(
            f"{row.name!r} is already managed by StackDock ({where}).",
            fields={"id": ["already managed"]},
        )


def _take(
    actor: Actor,
    table: str,
    row: Any,
    read: _Read,
    stack: Stack,
    resource: str,
    *,
    dock_ref: str,
) -> None:
    """Inside the transaction: the claim, the state record, the row, the audit event."""
    single = stack.kind == StackKind.SINGLE
    result = read.back.result
    now = timezone.now()
    # the row turns managed before the claim: the claim refuses a key that a discovered
    # row names, and this row is the one being imported (a refusal rolls both back)
    UNIVERSAL_MODELS[table].objects.filter(pk=row.pk).update(
        **universal_columns(table, result.universal),
        full_api_data=redact(result.full_api_data),
        provisioning_source=ProvisioningSource.API if single else ProvisioningSource.SST,
        provisioning_state=ProvisioningState.PROVISIONED,
        sst_stack_name=stack.name,
        sst_resource_id=resource,
        **({"spec": read.clean} if single else {}),
        provisioned_at=now,
        last_seen_at=now,
        drift={},
        updated_at=now,
    )
    claims.claim(stack, [claims.Wanted(resource, read.dock, row.resource_type, read.clean)])
    _refuse_held_in_state(row, read.dock)
    record = ResourceState(
        name=resource,
        type=row.resource_type,
        provider=row.provider,
        dock=dock_ref,
        inputs=read.inputs,
        outputs=dict(result.outputs),
        provider_resource_id=result.provider_resource_id,
        status=ResourceStatus.CREATED,
        token=make_token(stack.name, resource, 0, secrets.token_hex(8)),
        generation=0,
        updated_at=time.time(),
    )
    store = OrmStateStore(stack.org, stacks={stack.name: stack.pk})
    store.write(stack.name, [record], [])
    store.snapshot(stack.name, {"imported": 1}, store.load(stack.name))
    audit_log(
        actor=actor,
        org=stack.org,
        operation="resource.import",
        target=row,
        metadata={
            "table": table,
            "dock": read.dock.name,
            "type": row.resource_type,
            "provider_resource_id": row.provider_resource_id,
            "stack": None if single else stack.name,
            "resource": None if single else resource,
            "fields": sorted(read.clean),
        },
    )


def _imported(table: str, row: Any, read: _Read, stack: Stack, resource: str) -> Imported:
    fresh = UNIVERSAL_MODELS[table].objects.select_related("dock").get(pk=row.pk)
    return Imported(
        table=table,
        row=fresh,
        stack=stack,
        resource=resource,
        properties=read.clean,
        notes=list(read.back.notes),
    )


def _rewritten(doc: dict[str, Any], text: str) -> str:
    """The stored document's text after an import added to it: JSON stays JSON, YAML
    is written out again (its comments are not kept)."""
    if text.lstrip().startswith("{"):
        return json.dumps(doc, indent=2)
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, allow_unicode=True)
