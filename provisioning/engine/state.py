"""Stack state: what exists, the lock that makes one operation the only writer.

A resource's record moves through these statuses (see docs/ENGINE.md)::

    (absent) --write-ahead--> pending_create --created--> created
    (absent) --declared-----> declared       --created--> created
    created  --write-ahead--> pending_update --updated--> created
    created  --write-ahead--> pending_delete --deleted--> (absent)

A ``pending_*`` record found when an operation starts means an earlier one
died during that provider call; the orchestrator resolves it before anything
else (adopt or forget a create, re-read an update, delete again).

A ``declared`` record is a create's write-ahead written one step early:
while a resource's dependencies are still being created, so that its own
create can start the moment they finish without waiting for a write. Its
inputs are the spec's properties with their ``${ref}`` references not yet
resolved. Found after a crash, it is resolved like ``pending_create`` once
the resources it references are resolved: the references are filled in from
their outputs, then the create is looked up by its token (a create whose
references cannot be resolved cannot have started, and is forgotten).

Records are immutable values: change one with ``dataclasses.replace``. The
store keeps whatever it is given; the in-memory store can therefore hand out
the same objects without copying.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from docks.adapters.base import CENSOR

from .errors import LockLost, StackLocked


class ResourceStatus(StrEnum):
    PENDING_CREATE = "pending_create"
    DECLARED = "declared"
    CREATED = "created"
    PENDING_UPDATE = "pending_update"
    PENDING_DELETE = "pending_delete"


#: Records of a create that may or may not have happened (resolved by a lookup).
CREATE_UNCERTAIN = frozenset({ResourceStatus.PENDING_CREATE, ResourceStatus.DECLARED})

#: Separates a resource name from the generation of an old incarnation kept
#: in state until deleted (``web#2``); resource names cannot contain it.
INCARNATION_SEP = "#"


def base_name(key: str) -> str:
    """``web#2`` -> ``web``; ``web`` -> ``web``."""
    return key.split(INCARNATION_SEP, 1)[0]


def incarnation_key(name: str, generation: int) -> str:
    return f"{name}{INCARNATION_SEP}{generation}"


def make_token(stack: str, name: str, generation: int, nonce: str = "") -> str:
    """A short idempotency token for one incarnation of one resource.

    The same (stack, name, generation, nonce) always gives the same token;
    the engine writes the token to state before the provider call that uses
    it, so retries and crash recovery reuse it.
    """
    raw = f"{stack}\x00{name}\x00{generation}\x00{nonce}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


@dataclass(frozen=True)
class ResourceState:
    """One resource (or an old incarnation awaiting deletion) as last recorded.

    ``inputs`` are the resolved, validated properties last applied (needed to
    diff); they may hold secret fields, so they are left out of ``repr`` and
    ``display_inputs`` masks the type's secret fields.
    """

    name: str
    type: str
    provider: str
    dock: str | int
    inputs: dict[str, Any] = field(default_factory=dict, repr=False)
    outputs: dict[str, Any] = field(default_factory=dict, repr=False)
    provider_resource_id: str | None = None
    status: ResourceStatus = ResourceStatus.PENDING_CREATE
    token: str = ""
    generation: int = 0
    depends_on: tuple[str, ...] = ()
    deletion_policy: str = "delete"
    updated_at: float = 0.0

    def display_inputs(self, secret_fields: frozenset[str]) -> dict[str, Any]:
        return {k: (CENSOR if k in secret_fields else v) for k, v in self.inputs.items()}


@dataclass(frozen=True)
class LockInfo:
    holder: str
    since: float
    expires_at: float


class StateStore(Protocol):
    """Where stack state lives. The engine calls it from one thread only."""

    def acquire_lock(self, stack: str, holder: str, lease_seconds: float) -> None:
        """Take the lock or raise StackLocked. Re-entrant for the same holder;
        a lease that has expired may be taken over."""

    def renew_lock(self, stack: str, holder: str, lease_seconds: float) -> None:
        """Extend the lease, or raise LockLost when ``holder`` no longer holds it."""

    def release_lock(self, stack: str, holder: str) -> None:
        """Release if ``holder`` holds it; otherwise do nothing."""

    def force_unlock(self, stack: str) -> LockInfo | None:
        """Drop the lock whoever holds it (admins); return what was dropped."""

    def lock_info(self, stack: str) -> LockInfo | None: ...

    def load(self, stack: str) -> dict[str, ResourceState]:
        """Every record of the stack, keyed by ``ResourceState.name``."""

    def write(self, stack: str, puts: Sequence[ResourceState], deletes: Sequence[str]) -> None:
        """Apply one batch atomically: upsert ``puts`` (by name), remove ``deletes``."""

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
        """Save a numbered StateVersion of ``records``; return its number.

        ``records`` is the stack's state as the caller holds it: the store's,
        once ``puts``/``deletes`` (the last batch, as ``write`` takes it) are
        applied, so a store need not read it back. With ``release``, the lock
        that holder holds is released too, last. (The ORM store makes the three
        one statement on PostgreSQL.)
        """


@dataclass(frozen=True)
class StateVersion:
    number: int
    summary: dict[str, Any]
    resources: dict[str, ResourceState]
    created_at: float


class InMemoryStateStore:
    """A thread-safe StateStore in memory (tests, benchmarks, the CLI's dry runs)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._mutex = threading.RLock()
        self._locks: dict[str, LockInfo] = {}
        self._states: dict[str, dict[str, ResourceState]] = {}
        self._versions: dict[str, list[StateVersion]] = {}
        self.write_calls = 0

    # --- lock --------------------------------------------------------------
    def acquire_lock(self, stack: str, holder: str, lease_seconds: float) -> None:
        with self._mutex:
            now = self._clock()
            current = self._locks.get(stack)
            if current is not None and current.holder != holder and current.expires_at > now:
                raise StackLocked(current.holder, current.since)
            since = current.since if current is not None and current.holder == holder else now
            self._locks[stack] = LockInfo(holder, since, now + lease_seconds)

    def renew_lock(self, stack: str, holder: str, lease_seconds: float) -> None:
        with self._mutex:
            current = self._locks.get(stack)
            if current is None or current.holder != holder:
                raise LockLost(stack, holder)
            self._locks[stack] = LockInfo(holder, current.since, self._clock() + lease_seconds)

    def release_lock(self, stack: str, holder: str) -> None:
        with self._mutex:
            current = self._locks.get(stack)
            if current is not None and current.holder == holder:
                del self._locks[stack]

    def force_unlock(self, stack: str) -> LockInfo | None:
        with self._mutex:
            return self._locks.pop(stack, None)

    def lock_info(self, stack: str) -> LockInfo | None:
        with self._mutex:
            return self._locks.get(stack)

    # --- state -------------------------------------------------------------
    def load(self, stack: str) -> dict[str, ResourceState]:
        with self._mutex:
            return dict(self._states.get(stack, {}))

    def write(self, stack: str, puts: Sequence[ResourceState], deletes: Sequence[str]) -> None:
        with self._mutex:
            self.write_calls += 1
            records = self._states.setdefault(stack, {})
            for name in deletes:
                records.pop(name, None)
            for record in puts:
                records[record.name] = record

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
        with self._mutex:
            if puts or deletes:
                self.write(stack, puts, deletes)
            versions = self._versions.setdefault(stack, [])
            number = versions[-1].number + 1 if versions else 1
            versions.append(StateVersion(number, dict(summary), dict(records), self._clock()))
            if release is not None:
                self.release_lock(stack, release)
            return number

    def versions(self, stack: str) -> list[StateVersion]:
        with self._mutex:
            return list(self._versions.get(stack, []))


class StateManager:
    """One operation's view of one stack's state, from the orchestrator's thread.

    Holds the lock and renews it, keeps an in-memory mirror of the records,
    and batches changes: ``stage``/``stage_delete`` record what must be
    written, ``flush`` writes it all in one ``store.write``. The orchestrator
    flushes write-ahead records before handing any provider call to a worker.
    """

    def __init__(
        self,
        store: StateStore,
        stack: str,
        holder: str,
        *,
        lease_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.stack = stack
        self.holder = holder
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.records: dict[str, ResourceState] = {}
        self._pending: dict[str, ResourceState | None] = {}
        self._pending_since = 0.0
        self._locked = False
        self._renewed_at = 0.0

    # --- lock --------------------------------------------------------------
    def lock(self) -> None:
        self.store.acquire_lock(self.stack, self.holder, self.lease_seconds)
        self._locked = True
        self._renewed_at = self.clock()

    def heartbeat_due(self) -> bool:
        """True once a quarter of the lease has passed since the last renewal."""
        return self.clock() - self._renewed_at >= self.lease_seconds / 4

    def renew(self) -> None:
        self.store.renew_lock(self.stack, self.holder, self.lease_seconds)
        self._renewed_at = self.clock()

    def release(self) -> None:
        if self._locked:
            self._locked = False
            self.store.release_lock(self.stack, self.holder)

    # --- records -----------------------------------------------------------
    def load(self) -> dict[str, ResourceState]:
        self.records = self.store.load(self.stack)
        return self.records

    def get(self, key: str) -> ResourceState | None:
        return self.records.get(key)

    def stage(self, record: ResourceState) -> None:
        self._mark()
        self.records[record.name] = record
        self._pending[record.name] = record

    def stage_delete(self, key: str) -> None:
        self._mark()
        self.records.pop(key, None)
        self._pending[key] = None

    def _mark(self) -> None:
        if not self._pending:
            self._pending_since = time.monotonic()

    def flush(self) -> None:
        """Write every staged change in one atomic batch."""
        if not self._pending:
            return
        puts, deletes = self._take_pending()
        self.store.write(self.stack, puts, deletes)

    def _take_pending(self) -> tuple[list[ResourceState], list[str]]:
        puts = [r for r in self._pending.values() if r is not None]
        deletes = [k for k, r in self._pending.items() if r is None]
        self._pending = {}
        return puts, deletes

    def flush_if_due(self, *, max_age: float = 0.2, max_items: int = 1000) -> None:
        """Flush checkpoints that waited ``max_age`` seconds or piled up.

        Only checkpoints may wait: a write-ahead record is always flushed
        before its provider call starts. A checkpoint lost in a crash just
        leaves a pending record that recovery resolves.
        """
        if self._pending and (
            len(self._pending) >= max_items or time.monotonic() - self._pending_since >= max_age
        ):
            self.flush()

    def snapshot(self, summary: Mapping[str, Any], *, release: bool = False) -> int:
        """A numbered version of the state (the mirror), written together with the
        changes still staged; with ``release``, the lock is released in the same step."""
        puts, deletes = self._take_pending()
        number = self.store.snapshot(
            self.stack,
            dict(summary),
            self.records,
            puts=puts,
            deletes=deletes,
            release=self.holder if release and self._locked else None,
        )
        if release:
            self._locked = False
        return number
