"""The worker side of an operation: claim it, run the engine, reflect the result.

Called by the Celery task ``run_operation`` (and by the reaper for
operations whose worker died). Only this thread touches the database: the
engine's provider calls run in its thread pool, but the state store, the
event writer, the heartbeat and the cancel check are all called from the
orchestrator's own thread.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.db import connection, transaction
from django.db.models import DateTimeField, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.services import audit_log
from docks.adapters.base import Adapter, ProviderError
from docks.models import (
    UNIVERSAL_MODELS,
    Dock,
    ProvisioningSource,
    ProvisioningState,
    universal_columns,
)
from docks.services import dock_credentials
from provisioning import claims, transitions
from provisioning.engine.errors import EngineError, StackLocked
from provisioning.engine.orchestrator import DeploymentOrchestrator
from provisioning.engine.results import AppliedResource, Event, Result
from provisioning.engine.spec import StackSpec, parse_stack
from provisioning.models import (
    Operation,
    OperationEvent,
    OperationKind,
    OperationStatus,
    Plan,
    Stack,
    StackKind,
)
from provisioning.registry import get_registry
from provisioning.state_store import OrmStateStore
from provisioning.transitions import transition
from stackdock.exceptions import InvalidTransition
from stackdock.models import Organization
from stackdock.permissions import Actor
from stackdock.utils import rows

log = logging.getLogger(__name__)
APPLY_KINDS = (OperationKind.DEPLOY, OperationKind.PROVISION, OperationKind.UPDATE)
DESTROY_KINDS = (OperationKind.DESTROY, OperationKind.DELETE)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _lease() -> timedelta:
    return timedelta(seconds=settings.STACKDOCK_LEASE_SECONDS)


@functools.lru_cache(maxsize=1)
def _claim_sql() -> str:
    """PostgreSQL: the claim's conditional UPDATE and the rows the run needs (the
    operation, its organization, stack and dock), one statement."""
    tables = {model: model._meta.db_table for model in (Operation, Organization, Stack, Dock)}
    select = ", ".join(
        rows.columns(Operation, "claimed")
        + rows.columns(Organization, "o")
        + rows.columns(Stack, "s")
        + rows.columns(Dock, "d")
    )
    return (
        f"WITH claimed AS (UPDATE {tables[Operation]} SET status = %s, worker = %s, "  # noqa: S608
        "attempts = attempts + 1, started_at = COALESCE(started_at, %s), heartbeat_at = %s, "
        "lease_expires_at = %s, updated_at = %s WHERE id = %s AND status = %s RETURNING *) "
        f"SELECT {select} FROM claimed JOIN {tables[Organization]} o ON o.id = claimed.org_id "
        f"LEFT JOIN {tables[Stack]} s ON s.id = claimed.stack_id "
        f"LEFT JOIN {tables[Dock]} d ON d.id = claimed.dock_id"
    )


def claim(operation_id: int, worker: str) -> Operation | None:
    """queued -> running by conditional UPDATE: two workers never run the same operation."""
    if connection.vendor == "postgresql":
        return _claim_in_one_statement(operation_id, worker)
    now = timezone.now()
    # one read: the row (with what the run needs) is loaded before the conditional UPDATE
    # and brought up to date in memory afterwards, instead of being read a second time
    op = Operation.objects.select_related("org", "stack", "dock").filter(pk=operation_id).first()
    if op is None or op.status != OperationStatus.QUEUED:
        return None
    fields: dict[str, Any] = {
        "worker": worker,
        "attempts": op.attempts + 1,
        "started_at": op.started_at or now,
        "heartbeat_at": now,
        "lease_expires_at": now + _lease(),
        "updated_at": now,
    }
    try:
        transition(operation_id, OperationStatus.QUEUED, OperationStatus.RUNNING, **fields)
    except InvalidTransition:
        return None
    for name, value in fields.items():
        setattr(op, name, value)
    op.status = OperationStatus.RUNNING
    return op


def _claim_in_one_statement(operation_id: int, worker: str) -> Operation | None:
    transitions.check(OperationStatus.QUEUED, OperationStatus.RUNNING)
    now = timezone.now()
    params: list[Any] = [str(OperationStatus.RUNNING), worker, now, now, now + _lease(), now]
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(), [*params, operation_id, str(OperationStatus.QUEUED)])
        row = cursor.fetchone()
    if row is None:  # not queued (any more), or gone
        return None
    op = rows.instance(Operation, row)
    at = rows.width(Operation)
    org = rows.instance(Organization, row, at)
    assert op is not None and org is not None  # an operation always has both
    op.org = org
    at += rows.width(Organization)
    op.stack = rows.instance(Stack, row, at)
    op.dock = rows.instance(Dock, row, at + rows.width(Stack))
    return op


# --- the engine's callbacks -----------------------------------------------------------------


class EventWriter:
    """Stores engine events in order; batches inserts (flushes at most every 0.2 s)."""

    FLUSH_SECONDS = 0.2

    def __init__(self, op: Operation) -> None:
        self.op = op
        # only the runner writes events, so a first attempt has none yet
        last = (
            op.events.order_by("-seq").values_list("seq", flat=True).first() or 0
            if op.attempts > 1
            else 0
        )
        self.offset = last  # a resumed operation continues the numbering
        self.buffer: list[OperationEvent] = []
        self.flushed_at = time.monotonic()
        self.done = op.progress_done if op.attempts > 1 else 0
        self.done_resources: set[str] = set()

    def __call__(self, event: Event) -> None:
        self.buffer.append(
            OperationEvent(
                operation_id=self.op.pk,
                seq=self.offset + event.seq,
                resource=event.resource or "",
                action=event.action,
                status=event.status,
                message=event.message[:5000],
                duration_ms=event.duration_ms,
                at=timezone.now(),
            )
        )
        if event.resource and event.status in ("succeeded", "failed", "skipped"):
            self.done_resources.add(event.resource)
        if time.monotonic() - self.flushed_at >= self.FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.write():
            Operation.objects.filter(pk=self.op.pk).update(
                progress_done=len(self.done_resources), updated_at=timezone.now()
            )

    def write(self) -> bool:
        """Insert the buffered events (no progress update); False when there were none."""
        self.flushed_at = time.monotonic()
        if not self.buffer:
            return False
        batch, self.buffer = self.buffer, []
        with connection.cursor() as cursor:
            for start in range(0, len(batch), _EVENTS_PER_STATEMENT):
                chunk = batch[start : start + _EVENTS_PER_STATEMENT]
                cursor.execute(
                    _insert_events_sql(len(chunk)),
                    [value for event in chunk for value in _event_params(event)],
                )
        return True


#: an operation's events are written by hand-written multi-row INSERTs (the ORM's
#: bulk_create cost more to build than to run, for the few events of a batch)
_EVENT_COLUMNS = (
    "operation_id",
    "seq",
    "resource",
    "action",
    "status",
    "message",
    "duration_ms",
    "at",
)
_EVENTS_PER_STATEMENT = 500


@functools.lru_cache(maxsize=16)
def _insert_events_sql(count: int) -> str:
    one = "(" + ", ".join(["%s"] * len(_EVENT_COLUMNS)) + ")"
    return (
        f"INSERT INTO {OperationEvent._meta.db_table} ({', '.join(_EVENT_COLUMNS)}) "  # noqa: S608
        f"VALUES {', '.join([one] * count)}"
    )


def _event_params(event: OperationEvent) -> tuple[Any, ...]:
    return (
        event.operation_id,
        event.seq,
        event.resource,
        event.action,
        event.status,
        event.message,
        event.duration_ms,
        rows.db_time(event.at),
    )


class Heartbeat:
    """Keeps the operation's lease alive; checks for a cancel request (both throttled)."""

    def __init__(self, op: Operation, events: EventWriter) -> None:
        self.op = op
        self.events = events
        # the claim has just set the lease and read ``cancel_requested``
        self.beat_at = self.checked_at = time.monotonic()
        self.cancelled = bool(op.cancel_requested)

    def tick(self) -> None:
        now = time.monotonic()
        if now - self.events.flushed_at >= EventWriter.FLUSH_SECONDS:
            self.events.flush()
        if now - self.beat_at >= settings.STACKDOCK_LEASE_SECONDS / 4:
            self.beat_at = now
            at = timezone.now()
            Operation.objects.filter(pk=self.op.pk, status=OperationStatus.RUNNING).update(
                heartbeat_at=at, lease_expires_at=at + _lease()
            )

    def should_cancel(self) -> bool:
        now = time.monotonic()
        if not self.cancelled and now - self.checked_at >= 0.25:
            self.checked_at = now
            self.cancelled = Operation.objects.filter(pk=self.op.pk, cancel_requested=True).exists()
        return self.cancelled


def _docks_by_ref(op: Operation) -> dict[str, Dock]:
    """The organization's docks by id and by name, loaded once per operation run.

    A single-resource operation needs only its own dock, which the claim
    loaded: the organization's other docks are not read for it.
    """
    cached: dict[str, Dock] | None = getattr(op, "_docks_by_ref", None)
    if cached is None:
        own = _own_dock(op)
        docks = (
            [own]
            if own is not None
            else list(Dock.objects.filter(org_id=op.org_id).select_related("org"))
        )
        cached = {str(d.pk): d for d in docks}
        cached.update({d.name: d for d in docks})
        op._docks_by_ref = cached  # type: ignore[attr-defined]
    return cached


def _own_dock(op: Operation) -> Dock | None:
    """The dock of a single-resource operation, when its stack names no other."""
    stack, dock = op.stack, op.dock
    if stack is None or dock is None or stack.kind != StackKind.SINGLE:
        return None
    refs = {str(r.get("dock")) for r in (stack.spec.get("resources") or {}).values()}
    if not refs <= {str(dock.pk), dock.name}:
        return None
    dock.org = op.org  # the claim loaded both; same organization
    return dock


class Adapters:
    """One adapter per dock for the whole operation, built on first use, on this thread.

    The engine asks for adapters from the orchestrator's thread only. A dock's
    credentials are decrypted once per operation (audited), so an operation
    finishes with the credentials it started using even if they are rotated.
    """

    def __init__(self, op: Operation) -> None:
        self.op = op
        self.by_ref: dict[str, Adapter] = {}
        self._built: dict[Any, Adapter] = {}

    def __call__(self, dock: Any, provider: str) -> Adapter:
        ref = str(dock)
        adapter = self.by_ref.get(ref)
        if adapter is None:
            found = _docks_by_ref(self.op).get(ref)
            if found is None:
                raise LookupError(f"dock {dock!r} does not exist any more")
            adapter = self._built.get(found.pk)
            if adapter is None:
                cls = get_registry().adapter_class(found.provider)
                actor = Actor.system(f"worker:operation-{self.op.pk}", self.op.org)
                creds = (
                    {}
                    if cls.credentialless
                    else dock_credentials(dock=found, actor=actor, purpose="provision")
                )
                adapter = self._built[found.pk] = cls(creds, found.endpoint_url or None)
            self.by_ref[ref] = adapter
        return adapter


def _parse(op: Operation, stack: Stack) -> StackSpec:
    docks = _docks_by_ref(op)
    return parse_stack(
        _applied_spec(op, stack),
        registry=get_registry(),
        dock_provider=lambda ref: docks[str(ref)].provider,
    )


def _applied_spec(op: Operation, stack: Stack) -> Any:
    """What a deploy applies: the spec of the plan recorded when it was queued (whose keys
    it claimed), not one saved while it waited - that one is for the next deploy."""
    plan_id = (op.plan or {}).get("id") if op.kind == OperationKind.DEPLOY else None
    if plan_id is not None:
        spec = Plan.objects.filter(pk=plan_id).values_list("spec", flat=True).first()
        if spec is not None:
            return spec
    return stack.spec


def orchestrator_for(
    op: Operation, adapters: Adapters, events: EventWriter, beat: Heartbeat | None
) -> DeploymentOrchestrator:
    return DeploymentOrchestrator(
        registry=get_registry(),
        store=OrmStateStore(op.org, stacks={op.stack.name: op.stack.pk} if op.stack else None),
        adapter_for=adapters,
        on_event=events,
        parallelism=settings.STACKDOCK_PARALLELISM,
        max_attempts=settings.STACKDOCK_MAX_ATTEMPTS,
        lease_seconds=settings.STACKDOCK_LEASE_SECONDS,
        should_cancel=beat.should_cancel if beat else (lambda: False),
        on_tick=beat.tick if beat else None,
        dock_defaults=dock_defaults_of(op.org),
    )


def dock_defaults_of(org: Organization) -> Callable[[Any], Mapping[str, Any]]:
    """dock reference (id or name) -> the spec values that dock fills in."""
    by_ref: dict[str, Mapping[str, Any]] = {}
    for pk, name, defaults in Dock.objects.filter(org=org).values_list("pk", "name", "defaults"):
        by_ref[str(pk)] = by_ref[name] = defaults or {}
    return lambda ref: by_ref.get(str(ref), {})


def _no_provider_calls(dock: Any, provider: str) -> Adapter:
    raise LookupError("a plan calls no provider")


def plan_stack(*, stack: Stack, spec: StackSpec, targets: list[str] | None) -> dict[str, Any]:
    """Read-only plan; no provider call, no lock."""
    orch = DeploymentOrchestrator(
        registry=get_registry(),
        store=OrmStateStore(stack.org, stacks={stack.name: stack.pk}),
        adapter_for=_no_provider_calls,
        dock_defaults=dock_defaults_of(stack.org),
    )
    plan = orch.plan(spec, targets=targets)
    return {
        "changes": [
            {
                "resource": c.resource,
                "type": c.type,
                "action": c.action,
                "diff": c.diff,
                **({"note": c.note} if c.note else {}),
            }
            for c in plan.changes
        ],
        "summary": plan.summary,
    }


# --- running -----------------------------------------------------------------------------


def operation_run(operation_id: int, *, worker: str | None = None) -> str | None:
    """Run one queued operation to its end. Returns its final status (None if not ours)."""
    worker = worker or worker_name()
    try:
        op = claim(operation_id, worker)
    except (DatabaseOperationalError, DatabaseInterfaceError):
        # the connection kept from the last task went away while idle: once more on a
        # new one (a claim that did reach the database makes this one find it taken,
        # and the reaper hands the operation on when its lease expires)
        connection.close()
        op = claim(operation_id, worker)
    if op is None:
        return None
    if op.kind == OperationKind.SYNC:
        return _run_sync(op)
    stack = op.stack
    if stack is None:
        return _finish(
            op,
            Result(status="failed", summary={}, error="The stack of this operation was deleted."),
        )
    events = EventWriter(op)
    beat = Heartbeat(op, events)
    holder = str(op.pk)
    try:
        spec = _parse(op, stack) if op.kind in APPLY_KINDS else None
        adapters = Adapters(op)
        orch = orchestrator_for(op, adapters, events, beat)
        if spec is not None:
            result = orch.apply(
                spec, holder=holder, targets=op.targets or None, on_failure=stack.on_failure
            )
            if result.ok:
                result.applied.extend(_missing_rows(op, stack, result, adapters))
        elif op.kind in DESTROY_KINDS:
            result = orch.destroy(stack.name, holder=holder, targets=op.targets or None)
        elif op.kind == OperationKind.REFRESH:
            result = orch.refresh(stack.name, holder=holder)
        else:
            result = Result(status="failed", summary={}, error=f"{op.kind} is not run by workers")
    except (DatabaseOperationalError, DatabaseInterfaceError):
        # our own database went away mid-run (not the provider): hand the operation to
        # the next attempt, which resumes from the checkpoints already written
        log.warning("operation %s lost its database connection; requeueing", op.pk)
        _write_events_quietly(events)
        return _requeue_after_database_error(op)
    except StackLocked as exc:
        result = Result(status="failed", summary={}, error=str(exc))
    except (EngineError, LookupError) as exc:
        result = Result(status="failed", summary={}, error=str(exc))
    except Exception as exc:  # an engine bug: fail cleanly, never leave it running
        log.exception("operation %s crashed", op.pk)
        result = Result(
            status="failed",
            summary={},
            error=f"Internal error ({type(exc).__name__}); see the worker log.",
        )
    except BaseException:  # the worker is stopping: keep what happened so far
        _write_events_quietly(events)
        raise
    return _finish_or_fail(op, result, events)


def _finish_or_fail(op: Operation, result: Result, events: EventWriter) -> str | None:
    """``_finish``, and when recording the result itself raises (a constraint, a bug),
    the operation still ends: failed, with a message, never left running for the
    reaper to retry into a false "succeeded"."""
    try:
        return _finish(op, result, events)
    except (DatabaseOperationalError, DatabaseInterfaceError):
        _write_events_quietly(events)
        return _requeue_after_database_error(op)
    except Exception as exc:
        log.exception("operation %s: recording its result failed", op.pk)
        what = "; ".join(f"{k} {v}" for k, v in sorted(result.summary.items()) if v)
        message = (
            f"Internal error while recording the result ({type(exc).__name__}); "
            f"the provider reported: {result.status}{f' ({what})' if what else ''}. "
            "Run a refresh of the stack or a sync of the dock to compare."
        )
        return _finish(
            op,
            Result(status="failed", summary=result.summary, error=message),
            events,
            reflect=False,
        )


def _write_events_quietly(events: EventWriter) -> None:
    try:
        events.flush()
    except (DatabaseOperationalError, DatabaseInterfaceError):
        connection.close()


def _requeue_after_database_error(op: Operation) -> str | None:
    from provisioning.tasks import run_operation

    connection.close()  # drop the broken connection; the next query opens a new one
    try:
        if op.attempts >= settings.STACKDOCK_REAP_MAX_ATTEMPTS:
            return _finish(
                op,
                Result(
                    status="failed",
                    summary={},
                    error="Lost the database connection too many times.",
                ),
            )
        transition(
            op.pk, OperationStatus.RUNNING, OperationStatus.QUEUED, worker="", lease_expires_at=None
        )
    except (DatabaseOperationalError, DatabaseInterfaceError):
        connection.close()
        return None  # the database is still down: the reaper takes over when it returns
    except InvalidTransition:
        return None
    run_operation.delay(op.pk)
    return OperationStatus.QUEUED


def _missing_rows(
    op: Operation, stack: Stack, result: Result, adapters: Adapters
) -> list[AppliedResource]:
    """Resources in state without a universal row: an earlier attempt of this operation
    created them and died before reflecting them. Read them from the provider."""
    registry = get_registry()
    reported = {a.resource for a in result.applied}
    unreported = set(result.created) - reported
    out: list[AppliedResource] = []
    if not unreported:  # the usual case: every created resource was reported
        return out
    for res in stack.resources.filter(status="created", name__in=unreported):
        table = registry.resource_type(res.provider, res.type).table
        if table is None or res.provider_resource_id is None:
            continue
        model = UNIVERSAL_MODELS[table]
        if model.objects.filter(
            org=op.org, sst_stack_name=stack.name, sst_resource_id=res.name
        ).exists():
            continue
        try:
            read = adapters(res.dock_ref, res.provider).read(
                res.type, res.provider_resource_id, None
            )
        except (ProviderError, LookupError) as exc:
            log.warning("could not read %s/%s back: %s", stack.name, res.name, exc)
            continue
        if read is not None:
            out.append(
                AppliedResource(
                    resource=res.name,
                    type=res.type,
                    provider=res.provider,
                    dock=res.dock_ref,
                    table=table,
                    result=read,
                )
            )
    return out


def _run_sync(op: Operation) -> str:
    from docks.sync import dock_sync

    if op.dock is None:
        return _finish(op, Result(status="failed", summary={}, error="The dock was deleted."))
    try:
        counts = dock_sync(dock=op.dock, actor=Actor.system(f"worker:operation-{op.pk}", op.org))
    except ProviderError as exc:
        return _finish(op, Result(status="failed", summary={}, error=exc.message))
    return _finish(op, Result(status="succeeded", summary=counts))


def _finish(
    op: Operation, result: Result, events: EventWriter | None = None, *, reflect: bool = True
) -> str:
    """The final status, the universal rows, the last events and the audit event: one
    transaction, so a reader sees the operation finished together with all it did.
    ``reflect=False`` (after reflecting failed) leaves the rows alone but for a single
    resource's row, which says it failed."""
    status = {"succeeded": OperationStatus.SUCCEEDED, "cancelled": OperationStatus.CANCELLED}.get(
        result.status, OperationStatus.FAILED
    )
    with transaction.atomic():
        if reflect:
            _reflect(op, result)
        else:
            _mark_single_row_failed(op)
        if op.stack is not None:
            claims.settle(op.stack)
        fields: dict[str, Any] = {
            "summary": result.summary,
            "error": result.error or "",
            "drift": result.drift,
        }
        if status == OperationStatus.SUCCEEDED:
            fields["progress_done"] = op.progress_total
        if events is not None and events.write() and status != OperationStatus.SUCCEEDED:
            fields["progress_done"] = len(events.done_resources)
        transition(op.pk, OperationStatus.RUNNING, status, **fields)
        # a cancel someone asked for is the outcome they wanted, not a failure
        asked = status == OperationStatus.CANCELLED and bool(
            Operation.objects.filter(pk=op.pk).values_list("cancel_requested", flat=True).first()
        )
        audit_log(
            actor=Actor.system(f"worker:operation-{op.pk}", op.org),
            org=op.org,
            operation="provisioning.succeeded"
            if status == OperationStatus.SUCCEEDED
            else f"provisioning.{status}",
            status="success" if status == OperationStatus.SUCCEEDED or asked else "failure",
            target=op,
            metadata={
                "kind": op.kind,
                "summary": result.summary,
                "error": (result.error or "")[:500],
            },
        )
    return status


# --- universal tables ------------------------------------------------------------------------


def _mark_single_row_failed(op: Operation) -> None:
    if op.resource_table and op.resource_id is not None:
        UNIVERSAL_MODELS[op.resource_table].objects.filter(pk=op.resource_id).update(
            provisioning_state=ProvisioningState.FAILED
        )


def _reflect(op: Operation, result: Result) -> None:
    """Make the universal tables agree with what the engine did."""
    stack = op.stack
    if stack is None:
        return
    single = stack.kind == StackKind.SINGLE
    source = ProvisioningSource.API if single else ProvisioningSource.SST
    now = timezone.now()
    docks = _docks_by_ref(op)
    for applied in result.applied:
        if applied.table is None:
            continue
        model = UNIVERSAL_MODELS[applied.table]
        dock = docks.get(str(applied.dock))
        values = {
            **universal_columns(applied.table, applied.result.universal),
            "provider_resource_id": applied.result.provider_resource_id,
            "full_api_data": applied.result.full_api_data,
            "provisioning_source": source,
            "provisioning_state": ProvisioningState.PROVISIONED,
            "sst_stack_name": stack.name,
            "sst_resource_id": applied.resource,
            "resource_type": applied.type,
            "provider": applied.provider,
            "last_seen_at": now,
        }
        drift = result.drift.get(applied.resource, {}) if op.kind == OperationKind.REFRESH else {}
        if single and op.resource_table == applied.table and op.resource_id is not None:
            # the row the provision created: one UPDATE, no read
            properties = (stack.spec.get("resources", {}).get("resource", {}) or {}).get(
                "properties"
            )
            extra = {} if properties is None else {"spec": properties}
            if model.objects.filter(pk=op.resource_id).update(
                **values,
                **extra,
                drift=drift,
                provisioned_at=Coalesce("provisioned_at", Value(now, DateTimeField())),
                updated_at=now,
            ):
                continue
        row = model.objects.filter(
            org=op.org, sst_stack_name=stack.name, sst_resource_id=applied.resource
        ).first()
        if row is None and dock is not None:
            row = model.objects.filter(
                dock=dock, provider_resource_id=values["provider_resource_id"]
            ).first()
        if row is None:
            row = model(org=op.org, dock=dock)
        for key, value in values.items():
            setattr(row, key, value)
        if row.provisioned_at is None:
            row.provisioned_at = now
        if single:
            row.spec = (stack.spec.get("resources", {}).get("resource", {}) or {}).get(
                "properties", row.spec
            )
        row.drift = drift
        row.save()
    for removed in result.removed:
        for model in UNIVERSAL_MODELS.values():
            # only the row of what was removed: after a replace, the same logical
            # resource's row already holds the new provider id and keeps its identity
            rows = model.objects.filter(
                org=op.org,
                sst_stack_name=stack.name,
                sst_resource_id=removed.resource,
                provider_resource_id=removed.provider_resource_id,
            )
            if removed.retained:
                rows.update(
                    provisioning_source=ProvisioningSource.MANUAL,
                    provisioning_state="",
                    sst_stack_name="",
                    sst_resource_id="",
                )
            else:
                rows.delete()
    needs_fixup = result.status != "succeeded" or op.kind in DESTROY_KINDS
    if single and needs_fixup and op.resource_id is not None and op.resource_table:
        # a succeeded apply leaves the row as reflected above: no need to read it again
        model = UNIVERSAL_MODELS[op.resource_table]
        row = model.objects.filter(pk=op.resource_id).first()
        if row is not None and result.status != "succeeded":
            if row.provider_resource_id is None:
                # nothing exists at the provider (never created, or rolled back)
                model.objects.filter(pk=row.pk).update(provisioning_state=ProvisioningState.FAILED)
            elif op.kind in DESTROY_KINDS:
                model.objects.filter(pk=row.pk).update(provisioning_state=ProvisioningState.FAILED)
            else:
                model.objects.filter(pk=row.pk).update(
                    provisioning_state=ProvisioningState.PROVISIONED
                )
        if row is not None and op.kind in DESTROY_KINDS and result.status == "succeeded":
            model.objects.filter(pk=row.pk).delete()
    if op.kind == OperationKind.REFRESH:
        for resource, fields in result.drift.items():
            for model in UNIVERSAL_MODELS.values():
                model.objects.filter(
                    org=op.org, sst_stack_name=stack.name, sst_resource_id=resource
                ).update(drift=fields)


# --- the reaper ---------------------------------------------------------------------------------


def operations_reap(*, now: Any = None, max_attempts: int = 3) -> list[int]:
    """Find running operations whose lease expired (their worker died): hand each
    to another worker, or fail it after ``max_attempts``, releasing its stack lock.
    Returns the ids it requeued."""
    from provisioning.models import StackLock
    from provisioning.tasks import run_operation

    now = now or timezone.now()
    requeued: list[int] = []
    stale = Operation.objects.filter(status=OperationStatus.RUNNING, lease_expires_at__lt=now)
    for op in stale.select_related("org", "stack"):
        with transaction.atomic():
            if op.stack_id is not None:
                StackLock.objects.filter(stack_id=op.stack_id, holder=str(op.pk)).delete()
            try:
                if op.attempts >= max_attempts:
                    transition(
                        op.pk,
                        OperationStatus.RUNNING,
                        OperationStatus.FAILED,
                        error=f"The worker stopped responding {op.attempts} times; "
                        "run a refresh to check the provider.",
                    )
                    verb = "failed"
                    if op.stack is not None:
                        claims.settle(op.stack)
                else:
                    transition(
                        op.pk,
                        OperationStatus.RUNNING,
                        OperationStatus.QUEUED,
                        worker="",
                        lease_expires_at=None,
                    )
                    verb = "requeued"
            except InvalidTransition:
                continue  # its worker finished after all
            audit_log(
                actor=Actor.system("reaper", op.org),
                org=op.org,
                operation=f"operation.{verb}",
                status="failure" if verb == "failed" else "success",
                target=op,
                metadata={"attempts": op.attempts},
            )
            if verb == "requeued":
                requeued.append(op.pk)
                transaction.on_commit(partial(run_operation.delay, op.pk))
    requeued.extend(_resend_lost_messages(now, run_operation))
    return requeued


def _resend_lost_messages(now: Any, task: Any) -> list[int]:
    """Queued operations nobody picked up for a lease period: their message may have been
    lost (a broker restarted without persistence). Send it again - a duplicate is harmless,
    since only one claim can win."""
    cutoff = now - _lease()
    stale = list(
        Operation.objects.filter(status=OperationStatus.QUEUED, updated_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:500]
    )
    for pk in stale:
        if Operation.objects.filter(
            pk=pk, status=OperationStatus.QUEUED, updated_at__lt=cutoff
        ).update(updated_at=now):
            task.delay(pk)
    return stale
