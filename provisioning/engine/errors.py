"""Engine exceptions.

Every message here is meant to be shown to a user: none ever contains a
credential or a secret property value.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""


class SpecError(EngineError):
    """A stack document (or one resource's properties) is invalid.

    ``errors`` lists every problem found as ``(path, message)``, the path in
    dotted form (``resources.web.properties.name``); ``""`` is the document.
    """

    def __init__(self, errors: Iterable[tuple[str, str]]) -> None:
        self.errors: list[tuple[str, str]] = list(errors)
        super().__init__(self._render())

    def _render(self) -> str:
        if not self.errors:
            return "invalid stack specification"
        lines = [f"{path}: {message}" if path else message for path, message in self.errors]
        if len(lines) == 1:
            return lines[0]
        return f"{len(lines)} errors in stack specification:\n" + "\n".join(
            f"  - {line}" for line in lines
        )


class CycleError(SpecError):
    """The resources depend on each other in a loop; ``cycle`` names it."""

    def __init__(self, cycle: list[str], errors: Iterable[tuple[str, str]] | None = None) -> None:
        self.cycle = list(cycle)
        own = (f"resources.{cycle[0]}" if cycle else "resources", cycle_message(cycle))
        super().__init__([*(errors or ()), own])


def cycle_message(cycle: list[str]) -> str:
    """``dependency cycle: a -> b -> a`` (read "a depends on b")."""
    return "dependency cycle: " + " -> ".join(cycle)


class UnknownProvider(SpecError):
    """No adapter is registered for this provider."""

    def __init__(self, provider: str, valid: Iterable[str], *, path: str = "") -> None:
        self.provider = provider
        choices = ", ".join(sorted(valid)) or "(none registered)"
        super().__init__([(path, f"unknown provider {provider!r}; valid providers: {choices}")])


class UnknownResourceType(SpecError):
    """The provider has no resource type by this name."""

    def __init__(
        self, provider: str, type_name: str, valid: Iterable[str], *, path: str = ""
    ) -> None:
        self.provider = provider
        self.type_name = type_name
        choices = ", ".join(sorted(valid)) or "(none)"
        super().__init__(
            [
                (
                    path,
                    f"unknown resource type {type_name!r} for provider {provider!r}; "
                    f"valid types: {choices}",
                )
            ]
        )


def _iso(moment: float | datetime) -> str:
    if isinstance(moment, datetime):
        return moment.isoformat()
    return datetime.fromtimestamp(moment, tz=UTC).isoformat()


class StackLocked(EngineError):
    """Another operation holds the stack's lock and its lease has not expired."""

    def __init__(self, holder: str, since: float | datetime) -> None:
        self.holder = holder
        self.since = since
        super().__init__(f"stack locked by operation {holder} since {_iso(since)}")


class LockLost(EngineError):
    """This operation no longer holds the stack's lock (lease expired and taken)."""

    def __init__(self, stack: str, holder: str) -> None:
        self.stack = stack
        self.holder = holder
        super().__init__(f"operation {holder} lost the lock on stack {stack!r}")


class StepError(EngineError):
    """One provider call failed for good (permanent, or retries exhausted).

    ``uncertain`` is True when a create may or may not have happened at the
    provider (the engine then keeps the write-ahead record for recovery);
    ``stage`` names the call that failed in a multi-call step ("delete" of a
    delete-then-create replacement).
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        attempts: int = 1,
        uncertain: bool = False,
        stage: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.attempts = attempts
        self.uncertain = uncertain
        self.stage = stage
