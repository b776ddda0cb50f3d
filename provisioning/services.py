"""Writes on stacks and operations: what the dashboard, API and CLI call.

Each service checks roles through the one choke point, validates through the
registry, writes its rows and an audit event in one transaction, and enqueues
the Celery task on commit. Workers run the operation (``provisioning.runner``).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_log
from docks.models import UNIVERSAL_MODELS, Dock, ProvisioningSource, ProvisioningState
from provisioning import claims, imports, limits, plans, reach
from provisioning.engine.errors import SpecError
from provisioning.engine.spec import StackSpec, parse_stack
from provisioning.models import (
    FailurePolicy,
    Operation,
    OperationKind,
    OperationStatus,
    Plan,
    Stack,
    StackKind,
    StackLock,
    StackResource,
)
from provisioning.registry import get_registry
from provisioning.transitions import transition
from stackdock.exceptions import ConfirmationRequired, Conflict, NotFound, ValidationError
from stackdock.models import Area, Level, Organization
from stackdock.permissions import Actor, require
from stackdock.utils.suggest import unknown_name

STACK_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
ACTIVE = (OperationStatus.QUEUED, OperationStatus.RUNNING)
LOCKING_KINDS = (
    OperationKind.DEPLOY,
    OperationKind.DESTROY,
    OperationKind.REFRESH,
    OperationKind.PROVISION,
    OperationKind.UPDATE,
    OperationKind.DELETE,
)


def request_fingerprint(body: Any) -> str:
    """A stable hash of a request body, for Idempotency-Key comparisons."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _spec_error(exc: SpecError, prefix: str = "") -> ValidationError:
    """The engine's errors by field; the message names them ("spec.name: must be ..." or
    "2 problems: ...") in the caller's terms, not the engine's ("errors in stack
    specification" for a single resource's spec)."""
    errors = limits.capped(exc.errors)  # the first N, then "and 1,234 more errors"
    fields: dict[str, list[str]] = {}
    for path, message in errors:
        fields.setdefault(f"{prefix}{path}" if path else prefix.rstrip(".") or "spec", []).append(
            message
        )
    lines = [f"{path}: {message}" for path, messages in fields.items() for message in messages]
    if not lines:
        return ValidationError(str(exc), fields=fields)
    total = len(exc.errors)  # more than the lines when capped
    text = lines[0] if total == 1 else f"{total:,} problems: " + "; ".join(lines)
    return ValidationError(text, fields=fields)


def _idempotent(org: Organization, key: str, request_hash: str) -> Operation | None:
    """The operation an earlier request with this key queued, or None; 409 on another body."""
    if not key:
        return None
    existing = Operation.objects.filter(org=org, idempotency_key=key).first()
    if existing is None:
        return None
    if existing.request_hash != request_hash:
        raise Conflict(
            "This Idempotency-Key was already used with a different request.",
            fields={"Idempotency-Key": ["reused with a different body"]},
        )
    existing._replayed = True  # type: ignore[attr-defined]
    return existing


def _enqueue(operation: Operation) -> None:
    from provisioning.tasks import run_operation

    transaction.on_commit(lambda: run_operation.delay(operation.pk))


def _queue(
    *,
    actor: Actor,
    org: Organization,
    kind: str,
    idempotency_key: str,
    request_hash: str,
    audit: str,
    target: Any,
    metadata: Mapping[str, Any] | None = None,
    **fields: Any,
) -> Operation:
    """Inside the caller's transaction: a new operation, its audit event (``audit`` on
    ``target``, naming the operation) and its task, sent once the transaction commits."""
    op = Operation(
        org=org,
        kind=kind,
        actor_user=actor.user if not actor.is_system else None,
        actor_repr=str(actor),
        idempotency_key=idempotency_key or "",
        request_hash=request_hash if idempotency_key else "",
        **fields,
    )
    try:
        with transaction.atomic():
            op.save(force_insert=True)
    except IntegrityError:
        raise Conflict("This Idempotency-Key is being used by a concurrent request.") from None
    audit_log(
        actor=actor,
        org=org,
        operation=audit,
        target=target,
        metadata={"operation": op.pk, **(metadata or {})},
    )
    _enqueue(op)
    return op


# --- stacks ------------------------------------------------------------------------


def _dock_resolver(actor: Actor, org: Organization):  # type: ignore[no-untyped-def]
    """dock reference (id or name) -> provider, limited to docks the actor can see.

    ``resolve.unknown`` keeps, for each reference that named no dock, a message
    saying which docks the actor can see and the one they probably meant.
    """
    docks = list(Dock.objects.filter(org=org).values_list("pk", "name", "provider"))
    by_ref = {str(pk): provider for pk, _, provider in docks}
    by_ref.update({name: provider for _, name, provider in docks})
    unknown: dict[str, str] = {}

    def resolve(ref: Any) -> str:
        key = str(ref)
        if key not in by_ref:
            visible = Dock.objects.visible_to(actor, Area.PROVISIONING).filter(org=org)
            names = visible.values_list("name", flat=True)
            unknown[key] = unknown_name("dock", key, names)
            raise LookupError(unknown[key])
        return by_ref[key]

    resolve.unknown = unknown  # type: ignore[attr-defined]
    return resolve


def stack_parse(
    *, actor: Actor, org: Organization, doc: Any, max_resources: int | None = None
) -> StackSpec:
    resolver = _dock_resolver(actor, org)
    try:
        return parse_stack(
            doc, registry=get_registry(), dock_provider=resolver, max_resources=max_resources
        )
    except SpecError as exc:
        # the engine says "unknown dock 'x'"; say which docks there are instead
        hints = {f"unknown dock {ref!r}": text for ref, text in resolver.unknown.items()}
        errors = []
        for path, message in exc.errors:
            generic = next((g for g in hints if message.startswith(g)), None)
            errors.append((path, hints[generic] + message[len(generic) :] if generic else message))
        raise _spec_error(SpecError(errors), "spec.") from None


def _docks_of(org: Organization, spec: StackSpec) -> list[Dock]:
    refs = {str(r.dock) for r in spec.resources.values()}
    docks = [d for d in Dock.objects.filter(org=org) if str(d.pk) in refs or d.name in refs]
    return docks


def require_stack_author(*, actor: Actor, org: Organization) -> None:
    """Before even reading a document: may this actor provision anywhere in ``org``?
    (every entry point that accepts a stack document asks this first: provisioning/limits.py)"""
    if actor.allows(Area.PROVISIONING, Level.FULL) or (
        actor.membership is not None
        and actor.membership.org_id == org.pk
        and actor.granted_dock_ids(Area.PROVISIONING, Level.FULL)
    ):
        return
    require(actor, org, Area.PROVISIONING, Level.FULL)


def _require_provision(actor: Actor, org: Organization, docks: Iterable[Dock]) -> None:
    """``provisioning: full`` on the org, or a ``provision`` grant on every dock involved."""
    if actor.allows(Area.PROVISIONING, Level.FULL):
        require(actor, org, Area.PROVISIONING, Level.FULL)
        return
    docks = list(docks)
    if not docks:
        require(actor, org, Area.PROVISIONING, Level.FULL)
    for dock in docks:
        require(actor, org, Area.PROVISIONING, Level.FULL, obj=dock)


def stack_save(
    *,
    actor: Actor,
    org: Organization,
    doc: Any,
    name: str | None = None,
    on_failure: str | None = None,
) -> Stack:
    """Create or replace a stack's desired spec (validated; nothing is applied)."""
    require_stack_author(actor=actor, org=org)
    limits.check_document_size(limits.document_size(doc))
    spec = stack_parse(actor=actor, org=org, doc=doc, max_resources=limits.max_resources())
    stack_name = name or spec.name
    if not STACK_NAME.match(stack_name or ""):
        raise ValidationError(
            f"{stack_name!r} is not a valid stack name.",
            fields={"name": ["use 1-63 lowercase letters, digits, - or _"]},
        )
    if name and spec.name != name:
        raise ValidationError(
            f"The spec is named {spec.name!r}, not {name!r}.",
            fields={"spec.name": [f"must be {name!r}"]},
        )
    if on_failure is not None and on_failure not in FailurePolicy.values:
        raise ValidationError(
            "on_failure must be rollback or stop.",
            fields={"on_failure": ["must be rollback or stop"]},
        )
    _require_provision(actor, org, _docks_of(org, spec))
    text = doc if isinstance(doc, str) else json.dumps(doc, indent=2)
    data = doc if isinstance(doc, Mapping) else _as_mapping(doc)
    with transaction.atomic():
        existing = Stack.objects.select_for_update().filter(org=org, name=stack_name).first()
        created = existing is None
        if existing is None:
            stack = Stack(
                org=org,
                name=stack_name,
                kind=StackKind.STACK,
                created_by=actor.user if not actor.is_system else None,
            )
        elif existing.kind != StackKind.STACK:
            raise NotFound()
        else:
            stack = existing
        stack.spec = dict(data)
        stack.spec_text = text
        if on_failure is not None:
            stack.on_failure = on_failure
        try:
            with transaction.atomic():
                stack.save()
        except IntegrityError:  # created by a concurrent request a moment ago
            raise Conflict(
                f"Stack {stack_name!r} was just created by another request.",
                fields={"name": ["taken"]},
            ) from None
        audit_log(
            actor=actor,
            org=org,
            operation="stack.create" if created else "stack.update",
            target=stack,
            metadata={"resources": sorted(spec.resources)},
        )
    return stack


def _as_mapping(doc: Any) -> Mapping[str, Any]:
    from provisioning.engine.spec import load_document

    data, _ = load_document(doc)
    return data


def stack_delete(*, actor: Actor, stack: Stack) -> None:
    """Remove a stack that manages nothing any more (destroy it first)."""
    require(actor, stack.org, Area.PROVISIONING, Level.FULL, obj=stack)
    with transaction.atomic():
        if StackResource.objects.filter(stack=stack).exists():
            raise Conflict(f"Stack {stack.name!r} still manages resources; destroy it first.")
        if Operation.objects.filter(stack=stack, status__in=ACTIVE).exists():
            raise Conflict(f"Stack {stack.name!r} has an operation in progress.")
        audit_log(actor=actor, org=stack.org, operation="stack.delete", target=stack)
        stack.delete()


def stack_plan(
    *, actor: Actor, stack: Stack, targets: list[str] | None = None, doc: Any = None
) -> dict[str, Any]:
    """The preview (``terraform plan -out``): takes no lock, calls no provider, and saves
    the plan (``provisioning.plans``) so that a deploy can apply exactly it. ``doc``
    plans a draft instead of the stored spec, and does not save it as the spec."""
    require(actor, stack.org, Area.PROVISIONING, Level.READ, obj=stack)
    if doc is not None:
        require_stack_author(actor=actor, org=stack.org)
        limits.check_document_size(limits.document_size(doc))
    source = stack.spec if doc is None else doc
    spec = stack_parse(actor=actor, org=stack.org, doc=source, max_resources=limits.max_resources())
    if spec.name != stack.name:
        raise ValidationError(
            f"The spec is named {spec.name!r}, not {stack.name!r}.",
            fields={"spec.name": [f"must be {stack.name!r}"]},
        )
    _check_targets(stack, spec, targets)
    if doc is None:
        data, text = dict(stack.spec), stack.spec_text
    else:
        data = dict(doc if isinstance(doc, Mapping) else _as_mapping(doc))
        text = doc if isinstance(doc, str) else json.dumps(doc, indent=2)
    saved = _record_plan(actor, stack, spec, data, text, targets)
    return plans.as_dict(saved)


def _record_plan(
    actor: Actor,
    stack: Stack,
    spec: StackSpec,
    data: Mapping[str, Any],
    text: str,
    targets: list[str] | None,
    result: dict[str, Any] | None = None,
) -> Plan:
    if result is None:
        result = _plan_result(stack, spec, targets)
    return plans.record(
        stack=stack,
        spec=dict(data),
        spec_text=text,
        targets=targets,
        result=result,
        created_by=actor.user if not actor.is_system else None,
    )


def _plan_result(stack: Stack, spec: StackSpec, targets: list[str] | None) -> dict[str, Any]:
    from provisioning.runner import plan_stack

    return plan_stack(stack=stack, spec=spec, targets=targets)


def _check_targets(stack: Stack, spec: StackSpec, targets: list[str] | None) -> None:
    unknown = sorted(set(targets or ()) - set(spec.resources) - _state_names(stack))
    if unknown:
        raise ValidationError(
            f"Unknown target resources: {', '.join(unknown)}.",
            fields={"targets": [f"unknown: {', '.join(unknown)}"]},
        )


def _check_not_locked(stack: Stack) -> None:
    lock = StackLock.objects.filter(stack=stack, expires_at__gt=timezone.now()).first()
    active = (
        Operation.objects.filter(stack=stack, status__in=ACTIVE, kind__in=LOCKING_KINDS)
        .order_by("created_at")
        .first()
    )
    if active is not None:
        raise Conflict(
            f"stack locked by operation {active.pk} since {active.created_at.isoformat()}"
        )
    if lock is not None:
        raise Conflict(f"stack locked by operation {lock.holder} since {lock.since.isoformat()}")


def _replay_or_lock(
    org: Organization, stack: Stack, idempotency_key: str, request_hash: str
) -> Operation | None:
    """Inside the caller's transaction: the operation an earlier request with this
    Idempotency-Key queued, or None once ``stack`` is locked for a new one (409 while
    another operation holds it)."""
    replay = _idempotent(org, idempotency_key, request_hash)
    if replay is None:
        Stack.objects.select_for_update().get(pk=stack.pk)
        _check_not_locked(stack)
    return replay


def _stack_operation(
    kind: str,
    *,
    actor: Actor,
    stack: Stack,
    targets: list[str] | None,
    idempotency_key: str,
    request_hash: str,
) -> Operation:
    org = stack.org
    if kind == OperationKind.REFRESH:
        require(actor, org, Area.PROVISIONING, Level.FULL, obj=stack)
    stack = Stack.objects.get(pk=stack.pk)  # the spec as stored now: what the worker applies
    spec = stack_parse(actor=actor, org=org, doc=stack.spec)
    _check_targets(stack, spec, targets)
    planned = None
    if kind == OperationKind.DEPLOY:
        planned = _plan_result(stack, spec, targets)
        reached = reach.docks_reached(stack, spec=spec, changes=planned["changes"])
    else:  # destroy and refresh act on everything state holds, whatever the spec says
        reached = reach.docks_reached(stack, spec=spec, whole_state=True)
    _require_provision(actor, org, reached)
    with transaction.atomic():
        replay = _replay_or_lock(org, stack, idempotency_key, request_hash)
        if replay is not None:
            return replay
        saved = None
        if kind == OperationKind.DEPLOY:
            claims.claim(stack, _wanted(org, spec, targets))
            # a deploy without a plan plans and applies in one: record what it applies
            saved = _record_plan(
                actor, stack, spec, stack.spec, stack.spec_text, targets, result=planned
            )
        op = _queue(
            actor=actor,
            org=org,
            kind=kind,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            audit=f"stack.{kind}",
            target=stack,
            metadata={"targets": list(targets or [])},
            stack=stack,
            stack_name=stack.name,
            targets=list(targets or []),
            # a destroy or refresh goes through what state holds, not what the spec says
            progress_total=len(spec.resources)
            if kind == OperationKind.DEPLOY
            else len(_state_names(stack)),
            **({"plan": _plan_of(saved)} if saved is not None else {}),
        )
        if saved is not None:
            saved.operation = op
            saved.save(update_fields=["operation"])
        return op


def _plan_of(saved: Plan) -> dict[str, Any]:
    """What an operation records of the plan it applies."""
    return {"id": saved.pk, "changes": saved.changes, "summary": saved.summary}


def _wanted(org: Organization, spec: StackSpec, targets: list[str] | None) -> list[claims.Wanted]:
    docks = {}
    for dock in Dock.objects.filter(org=org):
        docks[str(dock.pk)] = docks[dock.name] = dock
    return [
        claims.Wanted(name, docks[str(res.dock)], res.type, res.properties)
        for name, res in spec.resources.items()
        if (not targets or name in targets) and str(res.dock) in docks
    ]


def _state_names(stack: Stack) -> set[str]:
    return set(StackResource.objects.filter(stack=stack).values_list("name", flat=True))


def stack_deploy(
    *,
    actor: Actor,
    stack: Stack,
    targets: list[str] | None = None,
    plan: Any = None,
    idempotency_key: str = "",
    request_hash: str = "",
) -> Operation:
    """Queue a deploy. With ``plan`` (an id from ``stack_plan``): exactly that plan's
    spec and targets, refused with 409 when it is stale; its spec becomes the stack's.
    Without: the stored spec, planned and applied in one (the plan is recorded)."""
    if plan is not None:
        return _deploy_plan(
            actor=actor,
            stack=stack,
            plan_id=plan,
            targets=targets,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
        )
    return _stack_operation(
        OperationKind.DEPLOY,
        actor=actor,
        stack=stack,
        targets=targets,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )


def _deploy_plan(
    *,
    actor: Actor,
    stack: Stack,
    plan_id: Any,
    targets: list[str] | None,
    idempotency_key: str,
    request_hash: str,
) -> Operation:
    org = stack.org
    require(actor, org, Area.PROVISIONING, Level.READ, obj=stack)
    saved = plans.get(stack, plan_id)
    if targets and list(targets) != list(saved.targets):
        raise ValidationError(
            "A deploy of a plan applies the plan's own targets.",
            fields={"targets": ["leave out: the plan has its targets"]},
        )
    spec = stack_parse(actor=actor, org=org, doc=saved.spec)
    _require_provision(actor, org, reach.docks_reached(stack, spec=spec, changes=saved.changes))
    with transaction.atomic():
        replay = _replay_or_lock(org, stack, idempotency_key, request_hash)
        if replay is not None:
            return replay
        locked = Stack.objects.get(pk=stack.pk)
        plans.check_applies(saved, locked)
        claims.claim(locked, _wanted(org, spec, saved.targets))
        if locked.spec != saved.spec:
            locked.spec, locked.spec_text = saved.spec, saved.spec_text
            locked.save(update_fields=["spec", "spec_text", "updated_at"])
        op = _queue(
            actor=actor,
            org=org,
            kind=OperationKind.DEPLOY,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            audit="stack.deploy",
            target=locked,
            metadata={"plan": saved.pk, "targets": list(saved.targets)},
            stack=locked,
            stack_name=locked.name,
            targets=list(saved.targets),
            progress_total=len(spec.resources),
            plan=_plan_of(saved),
        )
        saved.operation = op
        saved.save(update_fields=["operation"])
        return op


def stack_destroy(
    *,
    actor: Actor,
    stack: Stack,
    targets: list[str] | None = None,
    idempotency_key: str = "",
    request_hash: str = "",
) -> Operation:
    return _stack_operation(
        OperationKind.DESTROY,
        actor=actor,
        stack=stack,
        targets=targets,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )


def stack_refresh(
    *, actor: Actor, stack: Stack, idempotency_key: str = "", request_hash: str = ""
) -> Operation:
    return _stack_operation(
        OperationKind.REFRESH,
        actor=actor,
        stack=stack,
        targets=None,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )


def stack_unlock(*, actor: Actor, stack: Stack) -> dict[str, Any] | None:
    """Admins: drop a stack's lock whoever holds it. Audited."""
    require(actor, stack.org, Area.SETTINGS, Level.FULL, obj=stack)
    require(actor, stack.org, Area.PROVISIONING, Level.FULL, obj=stack)
    with transaction.atomic():
        lock = StackLock.objects.select_for_update().filter(stack=stack).first()
        info = None
        if lock is not None:
            info = {"holder": lock.holder, "since": lock.since.isoformat()}
            lock.delete()
        audit_log(
            actor=actor,
            org=stack.org,
            operation="stack.unlock",
            target=stack,
            metadata={"released": info},
        )
    return info


# --- operations -------------------------------------------------------------------------


def operation_cancel(*, actor: Actor, operation: Operation) -> Operation:
    """Cooperative: a queued operation ends at once, a running one between steps."""
    require(actor, operation.org, Area.PROVISIONING, Level.FULL, obj=operation)
    with transaction.atomic():
        op = Operation.objects.select_for_update().get(pk=operation.pk)
        if op.is_terminal:
            raise Conflict(f"Operation {op.pk} already {op.status}.")
        if op.status == OperationStatus.QUEUED:
            transition(
                op.pk,
                OperationStatus.QUEUED,
                OperationStatus.CANCELLED,
                cancel_requested=True,
                error="Cancelled before it started.",
            )
            _settle_cancelled_single(op)
            if op.stack is not None:
                claims.settle(op.stack)
        else:
            Operation.objects.filter(pk=op.pk).update(cancel_requested=True)
        audit_log(actor=actor, org=op.org, operation="operation.cancel", target=op)
    op.refresh_from_db()
    return op


def _settle_cancelled_single(op: Operation) -> None:
    """A single-resource operation cancelled before it ran leaves its row as it found it:
    a provision no half-made row, a delete the row no longer ``deprovisioning``."""
    if not op.resource_table or op.resource_id is None:
        return
    model = UNIVERSAL_MODELS[op.resource_table]
    if op.kind == OperationKind.PROVISION:
        model.objects.filter(pk=op.resource_id, provider_resource_id__isnull=True).delete()
    elif op.kind == OperationKind.DELETE:
        waiting = model.objects.filter(
            pk=op.resource_id, provisioning_state=ProvisioningState.DEPROVISIONING
        )
        waiting.filter(provider_resource_id__isnull=False).update(
            provisioning_state=ProvisioningState.PROVISIONED
        )
        waiting.update(provisioning_state=ProvisioningState.FAILED)  # nothing at the provider


# --- single resources ---------------------------------------------------------------------


def _validate_spec(provider: str, resource_type: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    registry = get_registry()
    try:
        rtype = registry.resource_type(provider, resource_type, path="resource_type")
        model = registry.validate(provider, resource_type, dict(spec), path="spec")
    except SpecError as exc:
        raise _spec_error(exc) from None
    if rtype.table is None:
        raise ValidationError(
            f"{provider} {resource_type} has no universal table; manage it in a stack.",
            fields={"resource_type": ["only available in stacks"]},
        )
    return model.model_dump(mode="json", exclude_none=True)


def resource_provision(
    *,
    actor: Actor,
    dock: Dock,
    resource_type: str,
    spec: Mapping[str, Any],
    idempotency_key: str = "",
    request_hash: str = "",
) -> Operation:
    """Provision one resource: a queued operation and a row in ``provisioning`` state."""
    org = dock.org
    require(actor, org, Area.PROVISIONING, Level.FULL, obj=dock)
    clean = _validate_spec(dock.provider, resource_type, spec)
    table = get_registry().resource_type(dock.provider, resource_type).table
    assert table is not None
    model = UNIVERSAL_MODELS[table]
    with transaction.atomic():
        replay = _idempotent(org, idempotency_key, request_hash)
        if replay is not None:
            return replay
        stack_name = f"_single-{table}-{uuid.uuid4().hex[:12]}"
        stack = Stack.objects.create(
            org=org,
            name=stack_name,
            kind=StackKind.SINGLE,
            on_failure=FailurePolicy.ROLLBACK,
            spec=_single_doc(stack_name, dock, resource_type, clean),
            created_by=actor.user if not actor.is_system else None,
        )
        claims.claim(stack, [claims.Wanted("resource", dock, resource_type, clean)])
        row = model.objects.create(
            org=org,
            dock=dock,
            provider=dock.provider,
            resource_type=resource_type,
            name=str(clean.get("name", resource_type)),
            region=str(clean.get("region", "")),
            spec=clean,
            provisioning_source=ProvisioningSource.API,
            provisioning_state=ProvisioningState.PROVISIONING,
            sst_stack_name=stack_name,
            sst_resource_id="resource",
        )
        return _queue(
            actor=actor,
            org=org,
            kind=OperationKind.PROVISION,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            audit="resource.provision",
            target=row,
            metadata={"dock": dock.name, "type": resource_type},
            stack=stack,
            dock=dock,
            resource_table=table,
            resource_id=row.pk,
            resource_type=resource_type,
            request={"spec": clean},
            progress_total=1,
        )


def _single_doc(
    stack_name: str, dock: Dock, resource_type: str, spec: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "name": stack_name,
        "resources": {
            "resource": {"dock": str(dock.pk), "type": resource_type, "properties": dict(spec)}
        },
    }


def _managed_stack(row: Any) -> Stack:
    if row.provisioning_source not in (ProvisioningSource.API, ProvisioningSource.SST):
        raise Conflict(
            f"{row.name!r} was not provisioned by StackDock (it was discovered by sync); "
            "manage it at its provider."
        )
    stack = Stack.objects.filter(org=row.org, name=row.sst_stack_name).first()
    if stack is None:
        raise Conflict(f"{row.name!r} has no stack state; it cannot be changed here.")
    if stack.kind != StackKind.SINGLE:
        raise Conflict(f"{row.name!r} belongs to stack {stack.name!r}: change the stack's spec.")
    return stack


def _resource_fields(table: str, row: Any, stack: Stack) -> dict[str, Any]:
    """The operation fields that name the one resource an update or delete acts on."""
    return {
        "stack": stack,
        "dock": row.dock,
        "resource_table": table,
        "resource_id": row.pk,
        "resource_type": row.resource_type,
        "progress_total": 1,
    }


#: what ``confirm`` says to let an update replace its resource
CONFIRM_REPLACE = "replace"


def resource_update_plan(*, actor: Actor, row: Any, changes: Mapping[str, Any]) -> dict[str, Any]:
    """What updating ``row`` with ``changes`` would do (no lock, no provider call):
    the same plan a stack gets, ``forces_replace`` naming the fields that cannot
    change in place."""
    require(actor, row.org, Area.PROVISIONING, Level.READ, obj=row)
    stack = _managed_stack(row)
    if row.dock is None:
        raise Conflict(f"{row.name!r} has no dock any more.")
    clean = _validate_spec(row.dock.provider, row.resource_type, {**row.spec, **dict(changes)})
    return _single_plan(stack, row, clean)


def _single_plan(stack: Stack, row: Any, clean: Mapping[str, Any]) -> dict[str, Any]:
    from provisioning.runner import plan_stack

    doc = _single_doc(stack.name, row.dock, row.resource_type, clean)
    spec = parse_stack(doc, registry=get_registry(), dock_provider=lambda ref: row.dock.provider)
    plan = plan_stack(stack=stack, spec=spec, targets=None)
    rtype = get_registry().resource_type(row.dock.provider, row.resource_type)
    for change in plan["changes"]:
        change["resource"] = row.name
        if change["action"] == "replace":
            change["forces_replace"] = sorted(set(change.get("diff", {})) & rtype.replace_fields)
    return plan


def resource_update(
    *,
    actor: Actor,
    table: str,
    row: Any,
    changes: Mapping[str, Any],
    confirm: str = "",
    idempotency_key: str = "",
    request_hash: str = "",
) -> Operation:
    """Queue an update of one resource. One that would replace it (a field that cannot
    change in place) is refused with its plan unless ``confirm`` is ``"replace"``."""
    org = row.org
    require(actor, org, Area.PROVISIONING, Level.FULL, obj=row)
    stack = _managed_stack(row)
    if row.dock is None:
        raise Conflict(f"{row.name!r} has no dock any more.")
    merged = {**row.spec, **dict(changes)}
    clean = _validate_spec(row.dock.provider, row.resource_type, merged)
    if confirm not in ("", CONFIRM_REPLACE):
        raise ValidationError(
            f"confirm must be {CONFIRM_REPLACE!r} or left out.",
            fields={"confirm": [f"must be {CONFIRM_REPLACE!r} or left out"]},
        )
    plan = _single_plan(stack, row, clean)
    _require_confirmation(row, plan, confirm)
    with transaction.atomic():
        replay = _replay_or_lock(org, stack, idempotency_key, request_hash)
        if replay is not None:
            return replay
        claims.claim(stack, [claims.Wanted("resource", row.dock, row.resource_type, clean)])
        stack.spec = _single_doc(stack.name, row.dock, row.resource_type, clean)
        stack.save(update_fields=["spec", "updated_at"])
        return _queue(
            actor=actor,
            org=org,
            kind=OperationKind.UPDATE,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            audit="resource.update",
            target=row,
            metadata={
                "fields": sorted(changes),
                "plan": plan["summary"],
                **({"confirmed": confirm} if confirm else {}),
            },
            request={"changes": dict(changes), **({"confirm": confirm} if confirm else {})},
            plan=plan,
            **_resource_fields(table, row, stack),
        )


def _require_confirmation(row: Any, plan: Mapping[str, Any], confirm: str) -> None:
    replaces = [c for c in plan["changes"] if c["action"] in ("replace", "delete")]
    if not replaces or confirm == CONFIRM_REPLACE:
        return
    fields = sorted({f for c in replaces for f in c.get("forces_replace", [])})
    because = f"{', '.join(fields)} cannot change in place" if fields else "it must be recreated"
    raise ConfirmationRequired(
        f"This update replaces {row.name!r}: {because}, so StackDock creates a new "
        f"{row.resource_type} and deletes the old one (the row and its id stay). Send "
        f'confirm: "{CONFIRM_REPLACE}" to go ahead.',
        plan=plan,
        fields={"confirm": [f"required: this update replaces the resource ({because})"]},
    )


def resource_delete(
    *, actor: Actor, table: str, row: Any, idempotency_key: str = "", request_hash: str = ""
) -> Operation:
    org = row.org
    require(actor, org, Area.PROVISIONING, Level.FULL, obj=row)
    stack = _managed_stack(row)
    with transaction.atomic():
        replay = _replay_or_lock(org, stack, idempotency_key, request_hash)
        if replay is not None:
            return replay
        type(row).objects.filter(pk=row.pk).update(
            provisioning_state=ProvisioningState.DEPROVISIONING
        )
        return _queue(
            actor=actor,
            org=org,
            kind=OperationKind.DELETE,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            audit="resource.delete",
            target=row,
            **_resource_fields(table, row, stack),
        )


def resource_import(*, actor: Actor, table: str, row: Any) -> imports.Imported:
    """Bring a discovered row under management as a single resource: read from its
    provider (nothing there changes), its state written, the row managed (``api``).
    Needs ``provisioning: full`` on the row's dock; 409 when it is already managed."""
    require(actor, row.org, Area.PROVISIONING, Level.FULL, obj=row)
    return imports.import_single(actor=actor, table=table, row=row)


def stack_import(
    *, actor: Actor, stack: Stack, table: str, row: Any, resource: str
) -> imports.Imported:
    """Add a discovered row to ``stack`` as ``resource``: the stored spec gains it with
    the properties read from its provider, and its state is written. Needs
    ``provisioning: full`` on the row's dock and on every dock the stack names (as
    saving the stack does); 409 when it is already managed or the stack is locked."""
    require(actor, stack.org, Area.PROVISIONING, Level.FULL, obj=row)
    if row.org_id != stack.org_id:
        raise NotFound()
    spec = stack_parse(actor=actor, org=stack.org, doc=stack.spec)
    _require_provision(actor, stack.org, _docks_of(stack.org, spec))
    return imports.import_into_stack(
        actor=actor, stack=stack, table=table, row=row, resource=resource
    )


def dock_sync_request(
    *, actor: Actor, dock: Dock, idempotency_key: str = "", request_hash: str = ""
) -> Operation:
    """Queue a sync of one dock now (``POST /docks/{id}/sync``)."""
    require(actor, dock.org, Area.DOCKS, Level.FULL, obj=dock)
    with transaction.atomic():
        replay = _idempotent(dock.org, idempotency_key, request_hash)
        if replay is not None:
            return replay
        return _queue(
            actor=actor,
            org=dock.org,
            kind=OperationKind.SYNC,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            audit="dock.sync_request",
            target=dock,
            dock=dock,
            progress_total=1,
        )
