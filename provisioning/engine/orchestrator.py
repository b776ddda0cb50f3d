"""The deployment orchestrator: plan, apply, destroy, refresh.

One writer: provider calls run on a thread pool, but only the thread that
called ``apply``/``destroy``/``refresh`` touches the StateStore, calls
``on_event``, ``on_tick``, ``should_cancel`` and ``adapter_for``. Workers
hand results back through futures (and retry notices through a queue).

Every provider call is preceded by a durable write-ahead record
(``pending_*``, or ``declared`` for a create whose record was written while
its dependencies were still being created) and followed by a checkpoint;
records of one loop iteration are written together in one ``store.write``.
See docs/ENGINE.md.
"""

from __future__ import annotations

import logging
import queue
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from graphlib import CycleError, TopologicalSorter
from typing import Any

from docks.adapters.base import Adapter, ResourceResult, SpecModel

from .errors import EngineError, SpecError, StepError
from .lifecycle import ResourceManager, RetryPolicy, log_unexpected
from .planner import (
    DockDefaults,
    check_targets,
    compute_plan,
    creates_first,
    decide,
    delete_graph,
    effective,
    mask,
    masked_outputs,
    no_defaults,
    select,
    state_graph,
)
from .pools import SHELF
from .references import resolve
from .registry import Registry
from .results import (
    SUMMARY_KEYS,
    AppliedResource,
    Event,
    Plan,
    RemovedResource,
    Result,
)
from .spec import StackSpec
from .state import (
    CREATE_UNCERTAIN,
    INCARNATION_SEP,
    ResourceState,
    ResourceStatus,
    StateManager,
    StateStore,
    base_name,
    incarnation_key,
    make_token,
)

logger = logging.getLogger(__name__)

AdapterFactory = Callable[[str | int, str], Adapter]
ON_FAILURE = ("rollback", "stop")


class DeploymentOrchestrator:
    """Runs operations on stacks; one instance may serve many operations in turn."""

    def __init__(
        self,
        *,
        registry: Registry,
        store: StateStore,
        adapter_for: AdapterFactory,
        on_event: Callable[[Event], None] | None = None,
        parallelism: int = 10,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        lease_seconds: float = 60,
        should_cancel: Callable[[], bool] = lambda: False,
        on_tick: Callable[[], None] | None = None,
        dock_defaults: DockDefaults = no_defaults,
    ) -> None:
        if parallelism < 1:
            raise ValueError("parallelism must be at least 1")
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self.registry = registry
        self.store = store
        self.adapter_for = adapter_for
        self.on_event = on_event
        self.parallelism = parallelism
        self.retry = RetryPolicy(
            max_attempts=max(1, max_attempts), backoff_base=backoff_base, sleep=sleep
        )
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.should_cancel = should_cancel
        self.on_tick = on_tick
        self.dock_defaults = dock_defaults

    # --- read-only ---------------------------------------------------------
    def plan(self, stack: StackSpec, *, targets: Iterable[str] | None = None) -> Plan:
        """What ``apply`` would do (no lock, no provider call)."""
        records = self.store.load(stack.name)
        return compute_plan(
            stack,
            records,
            registry=self.registry,
            targets=targets,
            dock_defaults=self.dock_defaults,
        )

    # --- operations -----------------------------------------------------------
    def apply(
        self,
        stack: StackSpec,
        *,
        holder: str,
        targets: Iterable[str] | None = None,
        on_failure: str = "rollback",
    ) -> Result:
        """Make the stack's resources match ``stack``. Raises StackLocked."""
        if on_failure not in ON_FAILURE:
            raise ValueError(f"on_failure must be one of {ON_FAILURE}")
        run = _Run(self, stack.name, holder, "apply")
        target_list = list(targets) if targets is not None else None
        return run.execute(lambda: run.apply(stack, target_list, on_failure))

    def destroy(
        self, stack_name: str, *, holder: str, targets: Iterable[str] | None = None
    ) -> Result:
        """Delete the stack's resources (dependents first). Raises StackLocked."""
        run = _Run(self, stack_name, holder, "destroy")
        target_list = list(targets) if targets is not None else None
        return run.execute(lambda: run.destroy(target_list))

    def refresh(self, stack_name: str, *, holder: str) -> Result:
        """Re-read every resource; record drift. Never creates, updates or deletes."""
        run = _Run(self, stack_name, holder, "refresh")
        return run.execute(run.refresh)


# --- one operation -----------------------------------------------------------------


@dataclass
class _Step:
    """One provider call (or a short sequence of them) for one state record.

    ``work`` runs on a worker thread; ``on_done``/``on_error`` run on the
    orchestrator's thread and stage the checkpoint. ``before`` holds the
    records as they were before the write-ahead, to undo it if the step is
    cancelled before it starts. ``covered``: its write-ahead is already
    durable (a ``declared`` record), so it may start without a write.
    """

    key: str
    action: str
    work: Callable[[], Any]
    on_done: Callable[[Any], str]
    on_error: Callable[[StepError], None]
    before: dict[str, ResourceState | None]
    done_status: str = "succeeded"
    covered: bool = False


@dataclass
class _Outcome:
    value: Any = None
    error: StepError | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class _RetryNotice:
    key: str
    action: str
    attempt: int
    max_attempts: int
    message: str
    delay: float


@dataclass(frozen=True)
class _Started:
    """A worker picked the step up (the "started" event is emitted then)."""

    step: _Step


_FAILED = object()  # returned by a step factory that failed without a provider call

#: Unfinished records whose outputs recovery (or refresh) establishes.
_RESOLVED_BY_RECOVERY = CREATE_UNCERTAIN | {ResourceStatus.PENDING_UPDATE}


@dataclass
class _Phase:
    stop_on_failure: bool = True
    finished: set[str] = field(default_factory=set)
    started: set[str] = field(default_factory=set)


class _Lookahead:
    """Which nodes of a phase to declare ahead, as their prerequisites start."""

    def __init__(
        self,
        graph: Mapping[str, Iterable[str]],
        declare: Callable[[str], ResourceState | None],
    ) -> None:
        self.declare = declare
        self.prerequisites = {node: tuple(prereqs) for node, prereqs in graph.items()}
        self.dependents: dict[str, list[str]] = {}
        for node, prereqs in self.prerequisites.items():
            for prereq in prereqs:
                self.dependents.setdefault(prereq, []).append(node)
        self.seen: set[str] = set()

    def declare_after(self, started: list[str], phase: _Phase) -> list[ResourceState]:
        """Records for the dependents of ``started`` whose prerequisites have all started
        (each node is considered once: ``seen``)."""
        out = []
        for node in started:
            for dependent in self.dependents.get(node, ()):
                if dependent in self.seen or dependent in phase.started:
                    continue
                if all(p in phase.started for p in self.prerequisites[dependent]):
                    self.seen.add(dependent)
                    record = self.declare(dependent)
                    if record is not None:
                        out.append(record)
        return out


class _Run:
    """State of one apply/destroy/refresh; lives on the orchestrator's thread."""

    def __init__(self, orch: DeploymentOrchestrator, stack: str, holder: str, kind: str) -> None:
        self.o = orch
        self.stack_name = stack
        self.kind = kind
        self.state = StateManager(
            orch.store, stack, holder, lease_seconds=orch.lease_seconds, clock=orch.clock
        )
        self.summary = dict.fromkeys(SUMMARY_KEYS, 0)
        self.errors: list[str] = []
        self.failed = False
        self.cancelled = False
        self.drift: dict[str, dict[str, dict[str, Any]]] = {}
        self.results: dict[str, tuple[ResourceResult, str | None]] = {}
        self.removed: list[RemovedResource] = []
        self._seq = 0
        self._adapters: dict[tuple[str | int, str], Adapter | Exception] = {}
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pool: ThreadPoolExecutor | None = None
        #: steps whose write-ahead is durable, waiting for room in the pool's queue
        self._backlog: deque[tuple[str, _Step]] = deque()
        #: tokens of interrupted creates that were not found: reuse them
        self._reuse_tokens: dict[str, tuple[int, str]] = {}
        #: what this apply created (for rollback), and old incarnations it parked
        self._created: list[str] = []
        self._parked: dict[str, str] = {}
        #: highest generation recorded per resource name, old incarnations included
        self._generations: dict[str, int] | None = None
        #: creates declared ahead (durable ``declared`` records) not yet started
        self._declared: dict[str, ResourceState] = {}
        #: the records as this operation found them
        self._loaded: dict[str, ResourceState] = {}

    # --- frame ---------------------------------------------------------------
    def execute(self, body: Callable[[], None]) -> Result:
        self.state.lock()
        settled = False  # every step handed to the pool was collected
        try:
            self.emit(None, self.kind, "started", f"{self.kind} of stack {self.stack_name}")
            self._loaded = dict(self.state.load())
            try:
                body()
            except EngineError as exc:  # bad targets, lost lock: say so, then raise
                self.emit(None, self.kind, "failed", str(exc))
                raise
            status = "cancelled" if self.cancelled else "failed" if self.failed else "succeeded"
            error = "; ".join(self.errors) if self.errors else None
            if error is not None and self.summary["failed"] > len(self.errors):
                error += f" (and {self.summary['failed'] - len(self.errors)} more failures)"
            if self.cancelled and error is None:
                error = "cancelled"
            # the last checkpoints, the version and the lock's release: one step
            version = self.state.snapshot(
                {"kind": self.kind, "status": status, "holder": self.state.holder, **self.summary},
                release=True,
            )
            settled = True  # each phase ran until nothing was in flight or backlogged
            self.emit(None, self.kind, status, self._final_message(status))
            return Result(
                status=status,
                summary=dict(self.summary),
                error=error,
                version=version,
                outputs=self._outputs(),
                drift=self.drift,
                applied=self._applied(),
                removed=self.removed,
                created=frozenset(
                    name
                    for name, record in self.state.records.items()
                    if record.status == ResourceStatus.CREATED
                ),
            )
        finally:
            if self._pool is not None:
                if settled:  # idle: the next run in this process can use it
                    SHELF.give_back(self._pool, self.o.parallelism)
                else:  # a step may still be running: wait for it, as before
                    self._pool.shutdown(wait=True, cancel_futures=True)
            self.state.release()

    def _final_message(self, status: str) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.summary.items() if v)
        return f"{self.kind} {status}" + (f": {counts}" if counts else "")

    def emit(
        self,
        resource: str | None,
        action: str,
        status: str,
        message: str,
        duration_ms: int | None = None,
    ) -> None:
        self._seq += 1
        if self.o.on_event is not None:
            self.o.on_event(
                Event(self._seq, resource, action, status, message, duration_ms, self.o.clock())
            )

    def fail(self, message: str) -> None:
        self.failed = True
        if len(self.errors) < 20:
            self.errors.append(message)

    # --- operations -----------------------------------------------------------
    def apply(self, stack: StackSpec, targets: list[str] | None, on_failure: str) -> None:
        selection = select(stack, self.state.records, targets)
        self.recover()
        if self.failed or self.cancelled:
            return
        graph = stack.graph.sorter_input(selection.participants)
        phase = self.run_phase(
            graph,
            lambda name: self.apply_step(stack, name),
            declare=lambda name: self.declare(stack, name),
        )
        if not self.failed and not self.cancelled:
            records = self.state.records
            deletes = select(stack, records, targets).deletes
            self.delete_phase(deletes, rollback=False)
        if self.failed and on_failure == "rollback":
            self.rollback()
        self._report_unstarted(selection.participants - phase.started)

    def destroy(self, targets: list[str] | None) -> None:
        records = self.state.records
        wanted = check_targets(targets, {base_name(k) for k in records})
        self.recover()
        if self.failed or self.cancelled:
            return
        records = self.state.records
        if wanted is None:
            keys = set(records)
        else:
            names = state_graph(records).dependents_of(wanted)
            keys = {k for k in records if base_name(k) in names}
        self.delete_phase(keys, rollback=False)

    def refresh(self) -> None:
        records = self.state.records
        graph = self._with_declared_edges({key: () for key in records}, set(records))
        self.run_phase(graph, self.refresh_step)

    def _report_unstarted(self, names: set[str]) -> None:
        if not names or not (self.failed or self.cancelled):
            return
        status = "cancelled" if self.cancelled else "skipped"
        reason = "operation cancelled" if self.cancelled else "not started: an earlier step failed"
        for name in sorted(names):
            self.emit(name, "apply", status, reason)

    # --- the scheduler ------------------------------------------------------------
    def run_phase(
        self,
        graph: Mapping[str, Iterable[str]],
        factory: Callable[[str], _Step | None | object],
        *,
        cancellable: bool = True,
        stop_on_failure: bool = True,
        declare: Callable[[str], ResourceState | None] | None = None,
    ) -> _Phase:
        """Walk ``graph`` (node -> prerequisites): each node's step starts as
        soon as its prerequisites finished, at most ``parallelism`` at a time.

        ``factory(node)`` runs on this thread when the node is ready: it
        stages the write-ahead record and returns a step, None when nothing
        needs doing, or ``_FAILED``.

        ``declare(node)``, when given, runs once every prerequisite of a node
        has started: it returns a ``declared`` record (or None), written while
        those prerequisites run, so that the node's step can start without a
        write of its own when they finish. Declarations whose step never
        started are removed before the phase ends.
        """
        phase = _Phase(stop_on_failure=stop_on_failure)
        if not graph:
            return phase
        sorter = TopologicalSorter(graph)
        sorter.prepare()
        ahead = _Lookahead(graph, declare) if declare is not None else None
        inflight: dict[Future[_Outcome], tuple[str, _Step]] = {}
        stopping = False
        while True:
            self._heartbeat()
            if not stopping and cancellable and self.o.should_cancel():
                self.cancelled = True
                stopping = True
            if stopping:
                self._cancel_queued(inflight)
            else:
                stopping = self._schedule(sorter, factory, phase, inflight, ahead)
            if not inflight and not self._backlog:
                break
            stopping = self._collect(sorter, phase, inflight) or stopping
        for key in self._declared:  # never started: nothing at the provider
            self.state.stage_delete(key)
        self._declared.clear()
        # what is still staged (checkpoints) goes with the next write-ahead
        # batch or with the operation's final snapshot
        return phase

    def _schedule(
        self,
        sorter: TopologicalSorter[str],
        factory: Callable[[str], _Step | None | object],
        phase: _Phase,
        inflight: dict[Future[_Outcome], tuple[str, _Step]],
        ahead: _Lookahead | None = None,
    ) -> bool:
        """Start every ready step; return True when one failed on the spot."""
        ready_steps: list[tuple[str, _Step]] = []
        failed = False
        while not failed:
            ready = sorter.get_ready()
            if not ready:
                break
            for node in ready:
                phase.started.add(node)
                step = factory(node)
                if step is None:
                    sorter.done(node)
                    phase.finished.add(node)
                elif isinstance(step, _Step):
                    ready_steps.append((node, step))
                elif phase.stop_on_failure:  # failed on the spot: start nothing more
                    failed = True
                    break
        if failed:
            for node, step in ready_steps:
                self._revert(step)
                phase.started.discard(node)
            ready_steps = []
        if not all(step.covered for _, step in ready_steps):
            # write-ahead records are durable before any worker sees the step
            # (pending checkpoints go in the same batch); a declared create's
            # record already is
            self.state.flush()
        if ready_steps and self._pool is None:
            self._pool = SHELF.borrow(self.o.parallelism)
        self._backlog.extend(ready_steps)
        self._submit(inflight)
        if ahead is not None and ready_steps:
            declared = ahead.declare_after([node for node, _ in ready_steps], phase)
            for record in declared:
                self.state.stage(record)
                self._declared[record.name] = record
            if declared or any(step.covered for _, step in ready_steps):
                # while the steps just started run: the records of the next
                # ones, so that they can start the moment these finish (this
                # thread collects no result before the write returns), and
                # the resolved inputs of declared creates that just started
                self.state.flush()
        return failed

    def _submit(self, inflight: dict[Future[_Outcome], tuple[str, _Step]]) -> None:
        """Hand backlogged steps to the pool, keeping at most two per worker queued.

        Submitting thousands of futures at once makes this thread fight the
        workers for the pool's locks (and the GIL) while they already run: at
        3,000 ready steps ``submit`` took 11x its time at 1,000.
        """
        window = 2 * self.o.parallelism
        while self._backlog and len(inflight) < window:
            node, step = self._backlog.popleft()
            future = self._pool.submit(_run_step, step, self._queue.put)  # type: ignore[union-attr]
            inflight[future] = (node, step)
            future.add_done_callback(self._queue.put)

    def _collect(
        self,
        sorter: TopologicalSorter[str],
        phase: _Phase,
        inflight: dict[Future[_Outcome], tuple[str, _Step]],
    ) -> bool:
        """Wait for at least one finished step; checkpoint all that finished."""
        try:
            items = [self._queue.get(timeout=self._tick_seconds())]
        except queue.Empty:
            return False
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        failed = False
        for item in items:
            if isinstance(item, _Started):
                step = item.step
                self.emit(base_name(step.key), step.action, "started", f"{step.action} started")
                continue
            if isinstance(item, _RetryNotice):
                self.emit(
                    base_name(item.key),
                    item.action,
                    "retrying",
                    f"attempt {item.attempt}/{item.max_attempts} failed: {item.message}; "
                    f"retrying in {item.delay:.1f}s",
                )
                continue
            entry = inflight.pop(item, None)
            if entry is None:  # cancelled before it started; already handled
                continue
            node, step = entry
            crash = item.exception()
            if crash is not None:  # not an Exception: a simulated process death
                raise crash
            outcome: _Outcome = item.result()
            if self._finish(step, outcome):
                sorter.done(node)
                phase.finished.add(node)
            elif phase.stop_on_failure:
                failed = True
        self.state.flush_if_due()
        return failed

    def _finish(self, step: _Step, outcome: _Outcome) -> bool:
        duration = int(outcome.seconds * 1000)
        resource = base_name(step.key)
        if outcome.error is None:
            message = step.on_done(outcome.value)
            self.emit(resource, step.action, step.done_status, message, duration)
            return True
        step.on_error(outcome.error)
        self.summary["failed"] += 1
        self.fail(f"{step.key}: {outcome.error.message}")
        self.emit(resource, step.action, "failed", outcome.error.message, duration)
        return False

    def _cancel_queued(self, inflight: dict[Future[_Outcome], tuple[str, _Step]]) -> None:
        """Undo every step that has not started: backlogged or still queued in the pool."""
        status = "cancelled" if self.cancelled else "skipped"
        waiting = [step for _, step in self._backlog]
        self._backlog.clear()
        for future in list(inflight):
            if future.cancel():
                waiting.append(inflight.pop(future)[1])
        for step in waiting:
            self._revert(step)
            self.emit(base_name(step.key), step.action, status, "not started")
        self.state.flush()

    def _revert(self, step: _Step) -> None:
        """Undo a step's write-ahead records (the step never ran)."""
        for key, record in step.before.items():
            if record is None:
                self.state.stage_delete(key)
            else:
                self.state.stage(record)

    def _tick_seconds(self) -> float:
        """How long to wait for a step before looking at the lease again.

        Renewal is due after a quarter of the lease; waking every twelfth
        keeps the gap between renewals under a third of the lease. Waking at
        least every quarter second lets ``on_tick`` publish buffered events
        while a slow step is still running.
        """
        return max(0.005, min(0.25, self.o.lease_seconds / 12))

    def _heartbeat(self) -> None:
        if self.state.heartbeat_due():
            self.state.renew()
        if self.o.on_tick is not None:
            self.o.on_tick()  # every wake-up: the caller throttles its own work

    # --- helpers ----------------------------------------------------------------
    def adapter(self, dock: str | int, provider: str) -> Adapter:
        key = (dock, provider)
        if key not in self._adapters:
            try:
                self._adapters[key] = self.o.adapter_for(dock, provider)
            except Exception as exc:  # noqa: BLE001 - reported as a step failure
                self._adapters[key] = exc
        found = self._adapters[key]
        if isinstance(found, Exception):
            if isinstance(found, EngineError):
                raise StepError(str(found), permanent=True)
            raise StepError(f"cannot use dock {dock!r} ({type(found).__name__})", permanent=True)
        return found

    def manager(
        self, key: str, action: str, dock: str | int, provider: str, type_name: str
    ) -> ResourceManager:
        """Provider calls for one step; its retries come back as queued notices."""
        rtype = self.o.registry.resource_type(provider, type_name)
        adapter = self.adapter(dock, provider)

        def on_retry(attempt: int, max_attempts: int, message: str, delay: float) -> None:
            self._queue.put(_RetryNotice(key, action, attempt, max_attempts, message, delay))

        return ResourceManager(adapter, rtype, retry=self.o.retry, on_retry=on_retry)

    def _step_manager(self, key: str, action: str, record: ResourceState) -> ResourceManager | None:
        """The manager for a recorded resource, or None after reporting why not."""
        try:
            mgr = self.manager(key, action, record.dock, record.provider, record.type)
        except (StepError, SpecError) as exc:
            self._fail_now(key, action, str(exc))
            return None
        return mgr

    def _fail_now(self, key: str, action: str, message: str) -> object:
        self.summary["failed"] += 1
        self.fail(f"{key}: {message}")
        self.emit(base_name(key), action, "failed", message, 0)
        return _FAILED

    def _stage_before(self, *keys: str) -> dict[str, ResourceState | None]:
        return {key: self.state.get(key) for key in keys}

    def _now(self) -> float:
        return self.o.clock()

    def _next_generation(self, name: str, old: ResourceState | None) -> int:
        """One above every generation of ``name`` still in state.

        Old incarnations awaiting deletion (``web#0``) can outlive the record
        they came from; a new incarnation must never reuse their key.
        """
        if self._generations is None:
            self._generations = {}
            for key, record in self.state.records.items():
                base = base_name(key)
                self._generations[base] = max(self._generations.get(base, -1), record.generation)
        current = max(self._generations.get(name, -1), old.generation if old else -1)
        self._generations[name] = current + 1
        return current + 1

    def _park_key(self, name: str, generation: int) -> str:
        key = incarnation_key(name, generation)
        while key in self.state.records:  # defensive: never overwrite a record
            generation += 1
            key = incarnation_key(name, generation)
        return key

    def _new_token(self, name: str, generation: int) -> tuple[int, str]:
        reused = self._reuse_tokens.pop(name, None)
        if reused is not None:
            if self._generations is not None:
                self._generations[name] = max(self._generations.get(name, -1), reused[0])
            return reused
        # A random nonce keeps a token from ever being reused by a later,
        # unrelated incarnation (EC2 returns the old, terminated instance for
        # a client token it has seen); the token is written to state before
        # the call that uses it, so retries and recovery still reuse it.
        return generation, make_token(self.stack_name, name, generation, secrets.token_hex(8))

    def _record_result(self, key: str, result: ResourceResult, table: str | None) -> None:
        self.results[key] = (result, table)

    def _removed(self, record: ResourceState, *, retained: bool = False) -> None:
        self.removed.append(
            RemovedResource(
                resource=base_name(record.name),
                type=record.type,
                provider=record.provider,
                dock=record.dock,
                provider_resource_id=record.provider_resource_id,
                retained=retained,
            )
        )

    def _outputs(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for key, record in self.state.records.items():
            if INCARNATION_SEP in key or record.status != ResourceStatus.CREATED:
                continue
            try:
                secret = self.o.registry.resource_type(record.provider, record.type).secret_fields
            except SpecError:
                secret = frozenset()
            out[key] = masked_outputs(record.outputs, secret)
        return out

    def _applied(self) -> list[AppliedResource]:
        out = []
        for key, (result, table) in self.results.items():
            record = self.state.records.get(key)
            if record is None or record.provider_resource_id != result.provider_resource_id:
                continue
            out.append(
                AppliedResource(
                    resource=key,
                    type=record.type,
                    provider=record.provider,
                    dock=record.dock,
                    table=table,
                    result=result,
                )
            )
        return out

    # --- recovery ---------------------------------------------------------------
    def recover(self) -> None:
        """Resolve ``pending_*`` records an interrupted operation left behind."""
        records = self.state.records
        pending = {k for k, r in records.items() if r.status != ResourceStatus.CREATED}
        if not pending:
            return
        deleting = {k for k in pending if records[k].status == ResourceStatus.PENDING_DELETE}
        order = delete_graph(records, deleting).reverse_sorter_input()
        graph = self._with_declared_edges({k: order.get(k, ()) for k in pending}, pending)
        self.run_phase(graph, self.recovery_step, cancellable=False)

    def _with_declared_edges(
        self, graph: dict[str, Iterable[str]], keys: set[str]
    ) -> dict[str, Iterable[str]]:
        """``graph`` where each ``declared`` record waits for the unresolved
        records (among ``keys``) it depends on: its references are resolved
        from their outputs. Should those edges form a cycle, they are dropped.
        """
        records = self.state.records
        unresolved: dict[str, list[str]] = {}
        for key in keys:
            if records[key].status in _RESOLVED_BY_RECOVERY:
                unresolved.setdefault(base_name(key), []).append(key)
        edges = {
            key: [dep for name in records[key].depends_on for dep in unresolved.get(name, ())]
            for key in keys
            if records[key].status == ResourceStatus.DECLARED
        }
        if not any(edges.values()):
            return graph
        merged = {**graph, **{k: [*graph.get(k, ()), *deps] for k, deps in edges.items()}}
        try:
            TopologicalSorter(merged).prepare()
        except CycleError:
            return graph
        return merged

    def recovery_step(self, key: str) -> _Step | None | object:
        record = self.state.get(key)
        if record is None:
            return None
        status = record.status
        mgr = self._step_manager(key, "recover", record)
        if mgr is None:
            return _FAILED
        if status == ResourceStatus.DECLARED:
            return self._recover_declared(key, record, mgr)
        spec = mgr.stored_spec(record.inputs)
        table = mgr.rtype.table
        if status == ResourceStatus.PENDING_CREATE:
            assert spec is not None  # noqa: S101
            return self._recover_create(key, record, mgr, spec, table)
        if status == ResourceStatus.PENDING_UPDATE:
            return self._recover_update(key, record, mgr, spec, table)
        return self._delete_step(key, record, mgr, action="delete", rollback=False)

    def _recover_create(
        self,
        key: str,
        record: ResourceState,
        mgr: ResourceManager,
        spec: SpecModel,
        table: str | None,
    ) -> _Step:
        def done(found: ResourceResult | None) -> str:
            if found is None:
                self.state.stage_delete(key)
                if INCARNATION_SEP not in key:
                    self._reuse_tokens[key] = (record.generation, record.token)
                return "an interrupted create had not happened"
            self.state.stage(
                replace(
                    record,
                    status=ResourceStatus.CREATED,
                    provider_resource_id=found.provider_resource_id,
                    outputs=dict(found.outputs),
                    updated_at=self._now(),
                )
            )
            self._record_result(key, found, table)
            return f"adopted {found.provider_resource_id} from an interrupted create"

        return _Step(
            key=key,
            action="adopt",
            work=lambda: mgr.find(spec, token=record.token),
            on_done=done,
            on_error=lambda err: None,
            before={},
        )

    def _recover_declared(
        self, key: str, record: ResourceState, mgr: ResourceManager
    ) -> _Step | None:
        """A create declared ahead: resolve its references, then look it up.

        Its dependencies were resolved first. A reference that still has no
        value means its create never started (it needed that value), and a
        create whose resolved properties are invalid never reached the
        provider: either way the record is forgotten.
        """
        records = self.state.records
        missing = False

        def lookup(resource: str, attr: str) -> Any:
            nonlocal missing
            for found in (records.get(resource), self._loaded.get(resource)):
                # as now, or as loaded (a refresh may just have dropped it)
                if found is not None and found.status == ResourceStatus.CREATED:
                    if attr in found.outputs:
                        return found.outputs[attr]
            missing = True
            return None

        resolved = resolve(record.inputs, lookup)
        model = None
        if not missing:
            try:
                model = self.o.registry.validate(
                    record.provider, record.type, resolved, path=f"resources.{key}.properties"
                )
            except SpecError:
                model = None
        if model is None:
            self.state.stage_delete(key)
            self._reuse_tokens[key] = (record.generation, record.token)
            return None
        pending = replace(
            record, inputs=model.model_dump(mode="json"), status=ResourceStatus.PENDING_CREATE
        )
        self.state.stage(pending)
        return self._recover_create(key, pending, mgr, model, mgr.rtype.table)

    def _recover_update(
        self,
        key: str,
        record: ResourceState,
        mgr: ResourceManager,
        spec: SpecModel | None,
        table: str | None,
    ) -> _Step:
        pid = record.provider_resource_id or ""

        def done(found: ResourceResult | None) -> str:
            if found is None:
                self.state.stage_delete(key)
                self._removed(record)
                return "gone at the provider; removed from state"
            self.state.stage(
                replace(
                    record,
                    status=ResourceStatus.CREATED,
                    outputs=dict(found.outputs),
                    updated_at=self._now(),
                )
            )
            self._record_result(key, found, table)
            return "re-read after an interrupted update; it will be re-applied"

        return _Step(
            key=key,
            action="read",
            work=lambda: mgr.read(pid, spec),
            on_done=done,
            on_error=lambda err: None,
            before={},
        )

    # --- apply steps ----------------------------------------------------------------
    def declare(self, stack: StackSpec, name: str) -> ResourceState | None:
        """A ``declared`` record for a resource that will be created, else None.

        Only a resource with no record at all is declared: whatever else
        happens to a recorded one (update, replace, no-op) is decided, and
        written ahead, when its inputs are known.
        """
        if name in self.state.records:
            return None
        res = stack.resources[name]
        generation, token = self._new_token(name, self._next_generation(name, None))
        return ResourceState(
            name=name,
            type=res.type,
            provider=res.provider,
            dock=res.dock,
            inputs=dict(res.properties),
            status=ResourceStatus.DECLARED,
            token=token,
            generation=generation,
            depends_on=res.dependencies,
            deletion_policy=res.deletion_policy,
            updated_at=self._now(),
        )

    def apply_step(self, stack: StackSpec, name: str) -> _Step | None | object:
        declared = self._declared.pop(name, None)
        step = self._apply_step(stack, name, declared)
        if declared is not None and not isinstance(step, _Step):
            self.state.stage_delete(name)  # failed before any provider call
        return step

    def _apply_step(
        self, stack: StackSpec, name: str, declared: ResourceState | None
    ) -> _Step | None | object:
        res = stack.resources[name]
        records = self.state.records

        def lookup(resource: str, attr: str) -> Any:
            record = records.get(resource)
            return record.outputs.get(attr) if record is not None else None

        resolved = resolve(res.properties, lookup) if res.references else res.properties
        try:
            model = self.o.registry.validate(
                res.provider, res.type, resolved, path=f"resources.{name}.properties"
            )
        except SpecError as exc:
            return self._fail_now(name, "apply", str(exc))
        rtype = self.o.registry.resource_type(res.provider, res.type)
        defaults = self.o.dock_defaults(res.dock)
        # state records, and the adapter gets, the effective values (where the
        # resource really is): a filled-in default is not a change on the next update
        dumped = model.model_dump(mode="json")
        inputs = effective(dumped, rtype, defaults)
        filled = {k: v for k, v in inputs.items() if dumped.get(k) != v}
        if filled:
            model = model.model_copy(update=filled)
        old = records.get(name) if declared is None else None
        change = decide(old, res, inputs, rtype, defaults)
        if change.action == "no-op":
            assert old is not None  # noqa: S101
            self.summary["unchanged"] += 1
            if (
                tuple(old.depends_on) != res.dependencies
                or old.deletion_policy != res.deletion_policy
            ):
                self.state.stage(
                    replace(old, depends_on=res.dependencies, deletion_policy=res.deletion_policy)
                )
            return None
        try:
            mgr = self.manager(name, change.action, res.dock, res.provider, res.type)
        except StepError as exc:
            return self._fail_now(name, change.action, exc.message)
        fresh = ResourceState(
            name=name,
            type=res.type,
            provider=res.provider,
            dock=res.dock,
            inputs=inputs,
            status=ResourceStatus.PENDING_CREATE,
            depends_on=res.dependencies,
            deletion_policy=res.deletion_policy,
            updated_at=self._now(),
        )
        if change.action == "create":
            return self._create_step(name, fresh, mgr, model, old, declared)
        assert old is not None  # noqa: S101
        if change.action == "update":
            return self._update_step(name, old, fresh, mgr, model, sorted(change.changes))
        if creates_first(old, res, change):
            return self._replace_create_first(name, old, fresh, mgr, model)
        old_mgr = self._step_manager(name, "replace", old)  # the old type/dock deletes
        if old_mgr is None:
            return _FAILED
        return self._replace_delete_first(name, old, fresh, mgr, old_mgr, model)

    def _create_step(
        self,
        name: str,
        fresh: ResourceState,
        mgr: ResourceManager,
        model: SpecModel,
        old: ResourceState | None,
        declared: ResourceState | None = None,
    ) -> _Step:
        if declared is not None:  # its durable record holds the token
            generation, token = declared.generation, declared.token
            before: dict[str, ResourceState | None] = {name: None}
        else:
            generation, token = self._new_token(name, self._next_generation(name, old))
            before = self._stage_before(name)
        pending = replace(fresh, token=token, generation=generation)
        self.state.stage(pending)  # the resolved inputs: written with the next batch

        def done(result: ResourceResult) -> str:
            self.state.stage(self._created_record(pending, result))
            self.summary["created"] += 1
            self._created.append(name)
            self._record_result(name, result, mgr.rtype.table)
            return f"created {result.provider_resource_id}"

        def error(err: StepError) -> None:
            if not err.uncertain:
                self.state.stage_delete(name)

        return _Step(
            key=name,
            action="create",
            work=lambda: mgr.create(model, token=token),
            on_done=done,
            on_error=error,
            before=before,
            covered=declared is not None,
        )

    def _update_step(
        self,
        name: str,
        old: ResourceState,
        fresh: ResourceState,
        mgr: ResourceManager,
        model: SpecModel,
        fields: list[str],
    ) -> _Step:
        before = self._stage_before(name)
        # the write-ahead keeps the old inputs: if the process dies, the
        # next apply re-reads the resource and re-applies the update
        self.state.stage(replace(old, status=ResourceStatus.PENDING_UPDATE))
        old_spec = mgr.stored_spec(old.inputs)
        pid = old.provider_resource_id or ""

        def done(result: ResourceResult) -> str:
            self.state.stage(
                replace(
                    old,
                    inputs=fresh.inputs,
                    outputs=dict(result.outputs),
                    provider_resource_id=result.provider_resource_id,
                    status=ResourceStatus.CREATED,
                    depends_on=fresh.depends_on,
                    deletion_policy=fresh.deletion_policy,
                    updated_at=self._now(),
                )
            )
            self.summary["updated"] += 1
            self._record_result(name, result, mgr.rtype.table)
            return f"updated {', '.join(fields)}"

        return _Step(
            key=name,
            action="update",
            work=lambda: mgr.update(pid, old_spec, model),  # type: ignore[arg-type]
            on_done=done,
            on_error=lambda err: self.state.stage(old),
            before=before,
        )

    def _replace_create_first(
        self,
        name: str,
        old: ResourceState,
        fresh: ResourceState,
        mgr: ResourceManager,
        model: SpecModel,
    ) -> _Step:
        generation, token = self._new_token(name, self._next_generation(name, old))
        pending = replace(fresh, token=token, generation=generation)
        parked_key = self._park_key(name, old.generation)
        before = self._stage_before(name, parked_key)
        # park the old incarnation under its own key: deleted after the
        # creates, like any resource removed from the spec
        self.state.stage(replace(old, name=parked_key))
        self.state.stage(pending)

        def done(result: ResourceResult) -> str:
            self.state.stage(self._created_record(pending, result))
            self.summary["replaced"] += 1
            self._created.append(name)
            self._parked[name] = parked_key
            self._record_result(name, result, mgr.rtype.table)
            return f"created replacement {result.provider_resource_id}"

        def error(err: StepError) -> None:
            if not err.uncertain:
                self.state.stage_delete(parked_key)
                self.state.stage(old)

        return _Step(
            key=name,
            action="replace",
            work=lambda: mgr.create(model, token=token),
            on_done=done,
            on_error=error,
            before=before,
        )

    def _replace_delete_first(
        self,
        name: str,
        old: ResourceState,
        fresh: ResourceState,
        mgr: ResourceManager,
        old_mgr: ResourceManager,
        model: SpecModel,
    ) -> _Step:
        generation, token = self._new_token(name, self._next_generation(name, old))
        pending = replace(fresh, token=token, generation=generation)
        parked_key = self._park_key(name, old.generation)
        parked = replace(old, name=parked_key, status=ResourceStatus.PENDING_DELETE)
        before = self._stage_before(name, parked_key)
        self.state.stage(parked)
        self.state.stage(pending)
        retain = old.deletion_policy == "retain"
        old_spec = old_mgr.stored_spec(old.inputs)
        pid = old.provider_resource_id or ""

        def work() -> ResourceResult:
            if not retain:
                try:
                    old_mgr.delete(pid, old_spec)
                except StepError as exc:
                    exc.stage = "delete"
                    raise
            return mgr.create(model, token=token)

        def done(result: ResourceResult) -> str:
            self.state.stage_delete(parked_key)
            self._removed(old, retained=retain)
            self.state.stage(self._created_record(pending, result))
            self.summary["replaced"] += 1
            self._created.append(name)
            self._record_result(name, result, mgr.rtype.table)
            return f"replaced {pid} with {result.provider_resource_id}"

        def error(err: StepError) -> None:
            if err.stage == "delete":
                self.state.stage_delete(parked_key)
                self.state.stage(old)
                return
            self.state.stage_delete(parked_key)
            self._removed(old, retained=retain)
            if not err.uncertain:
                self.state.stage_delete(name)

        return _Step(
            key=name,
            action="replace",
            work=work,
            on_done=done,
            on_error=error,
            before=before,
        )

    def _created_record(self, pending: ResourceState, result: ResourceResult) -> ResourceState:
        return replace(
            pending,
            status=ResourceStatus.CREATED,
            provider_resource_id=result.provider_resource_id,
            outputs=dict(result.outputs),
            updated_at=self._now(),
        )

    # --- deletes ------------------------------------------------------------------
    def delete_phase(self, keys: set[str], *, rollback: bool) -> None:
        if not keys:
            return
        records = self.state.records
        graph = delete_graph(records, keys).reverse_sorter_input()
        self.run_phase(
            graph,
            lambda key: self.delete_step(key, rollback=rollback),
            cancellable=not rollback,
            stop_on_failure=not rollback,
        )

    def delete_step(self, key: str, *, rollback: bool) -> _Step | None | object:
        record = self.state.get(key)
        if record is None:
            return None
        if not rollback and record.deletion_policy == "retain":
            self.state.stage_delete(key)
            self._removed(record, retained=True)
            self.summary["retained"] += 1
            self.emit(base_name(key), "delete", "succeeded", "retained: removed from state only", 0)
            return None
        if record.provider_resource_id is None:  # never created
            self.state.stage_delete(key)
            return None
        mgr = self._step_manager(key, "delete", record)
        if mgr is None:
            return _FAILED
        return self._delete_step(key, record, mgr, action="delete", rollback=rollback)

    def _delete_step(
        self, key: str, record: ResourceState, mgr: ResourceManager, *, action: str, rollback: bool
    ) -> _Step:
        before = self._stage_before(key)
        self.state.stage(replace(record, status=ResourceStatus.PENDING_DELETE))
        spec = mgr.stored_spec(record.inputs)
        pid = record.provider_resource_id or ""
        resumed = record.status == ResourceStatus.PENDING_DELETE

        def done(_: None) -> str:
            self.state.stage_delete(key)
            self._removed(record)
            if rollback:
                self.summary["rolled_back"] += 1
                self._restore_parked(key)
                return f"rolled back: deleted {pid}"
            if not resumed and INCARNATION_SEP not in key:  # replacements count once
                self.summary["deleted"] += 1
            return f"deleted {pid}"

        def error(err: StepError) -> None:
            # still there: back to its last known status
            self.state.stage(record if resumed else replace(record, status=ResourceStatus.CREATED))

        return _Step(
            key=key,
            action=action,
            work=lambda: mgr.delete(pid, spec),
            on_done=done,
            on_error=error,
            before=before,
            done_status="rolled_back" if rollback else "succeeded",
        )

    def rollback(self) -> None:
        """Delete what this apply created (dependents first)."""
        keys = {n for n in self._created if self.state.get(n) is not None}
        self.delete_phase(keys, rollback=True)

    def _restore_parked(self, name: str) -> None:
        parked_key = self._parked.pop(name, None)
        if parked_key is None:
            return
        parked = self.state.get(parked_key)
        if parked is not None and parked.status == ResourceStatus.CREATED:
            self.state.stage_delete(parked_key)
            self.state.stage(replace(parked, name=name, updated_at=self._now()))

    # --- refresh ---------------------------------------------------------------
    def refresh_step(self, key: str) -> _Step | None | object:
        record = self.state.get(key)
        if record is None:
            return None
        mgr = self._step_manager(key, "refresh", record)
        if mgr is None:
            return _FAILED
        if record.status == ResourceStatus.DECLARED:
            return self._recover_declared(key, record, mgr)
        spec = mgr.stored_spec(record.inputs)
        table = mgr.rtype.table
        if record.status == ResourceStatus.PENDING_CREATE:
            assert spec is not None  # noqa: S101
            return self._recover_create(key, record, mgr, spec, table)
        pid = record.provider_resource_id or ""
        secret = mgr.rtype.secret_fields

        def done(found: ResourceResult | None) -> str:
            if found is None:
                self.drift[key] = {"__exists__": {"old": True, "new": False}}
                self.state.stage_delete(key)
                self._removed(record)
                return "gone at the provider: removed from state"
            changed = _drifted(record.outputs, found.outputs)
            if changed:
                self.drift[key] = {
                    f: {"old": mask(old, f, secret), "new": mask(new, f, secret)}
                    for f, (old, new) in changed.items()
                }
            # fields the provider reports that are also inputs take the
            # provider's value, so the next plan shows the way back
            inputs = dict(record.inputs)
            for f, (_, new) in changed.items():
                if f in inputs:
                    inputs[f] = new
            self.state.stage(
                replace(record, outputs=dict(found.outputs), inputs=inputs, updated_at=self._now())
            )
            self._record_result(key, found, table)
            return f"drift in {', '.join(sorted(changed))}" if changed else "no drift"

        return _Step(
            key=key,
            action="refresh",
            work=lambda: mgr.read(pid, spec),
            on_done=done,
            on_error=lambda err: None,
            before={},
        )


def _drifted(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    keys = list(dict.fromkeys([*old, *new]))
    return {k: (old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k)}


def _run_step(step: _Step, notify: Callable[[Any], None]) -> _Outcome:
    """Worker thread: run one step; never touches state or events."""
    notify(_Started(step))
    started = time.perf_counter()
    try:
        value = step.work()
    except StepError as exc:
        return _Outcome(error=exc, seconds=time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 - an engine bug must not kill the run
        log_unexpected(exc, f"step {step.action} {step.key}")
        error = StepError(f"internal engine error ({type(exc).__name__})", permanent=True)
        return _Outcome(error=error, seconds=time.perf_counter() - started)
    return _Outcome(value=value, seconds=time.perf_counter() - started)
