"""What the engine hands back: events, plans, results. Plain values, no secrets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from docks.adapters.base import ResourceResult

#: Event.status values.
EVENT_STATUSES = (
    "started",
    "succeeded",
    "failed",
    "retrying",
    "skipped",
    "cancelled",
    "rolled_back",
)
#: Change.action values.
ACTIONS = ("create", "update", "replace", "delete", "no-op")
#: Keys of Result.summary.
SUMMARY_KEYS = (
    "created",
    "updated",
    "replaced",
    "deleted",
    "unchanged",
    "failed",
    "rolled_back",
    "retained",
)


@dataclass(frozen=True)
class Event:
    """One step of an operation, in order (``seq`` starts at 1 per operation).

    ``resource`` is None for the operation itself (``action`` apply, destroy
    or refresh). ``at`` is the orchestrator clock's time.
    """

    seq: int
    resource: str | None
    action: str
    status: str
    message: str
    duration_ms: int | None
    at: float


@dataclass(frozen=True)
class Change:
    """One planned change. ``diff`` maps field -> {"old", "new"} (secrets masked)."""

    resource: str
    type: str
    action: str
    diff: dict[str, dict[str, Any]] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Plan:
    stack: str
    changes: list[Change]
    summary: dict[str, int]

    @property
    def has_changes(self) -> bool:
        return any(c.action != "no-op" for c in self.changes)


@dataclass(frozen=True)
class AppliedResource:
    """A resource that exists after the operation, with what the provider said.

    The Django side maps these onto the universal tables (``table``).
    """

    resource: str
    type: str
    provider: str
    dock: str | int
    table: str | None
    result: ResourceResult


@dataclass(frozen=True)
class RemovedResource:
    """A resource the operation deleted (or forgot, when ``retained``)."""

    resource: str
    type: str
    provider: str
    dock: str | int
    provider_resource_id: str | None
    retained: bool = False


@dataclass
class Result:
    """How an apply/destroy/refresh ended.

    ``status``: succeeded | failed | cancelled. ``outputs``: per resource, the
    outputs it has now (secret fields masked). ``drift`` (refresh only):
    resource -> field -> {"old", "new"}. ``applied``/``removed``: what the
    Django side must reflect in the universal tables. ``created``: the
    resources in state, created, when the operation ended (reported in
    ``applied`` or not: a no-op leaves its resource out of ``applied``).
    """

    status: str
    summary: dict[str, int]
    error: str | None = None
    version: int | None = None
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    drift: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    applied: list[AppliedResource] = field(default_factory=list)
    removed: list[RemovedResource] = field(default_factory=list)
    created: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"
