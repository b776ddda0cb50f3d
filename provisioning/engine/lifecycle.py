"""One resource's lifecycle through its adapter: create/read/update/delete/diff.

Error classification (``classify``):

* ``ProviderError``: its own ``permanent`` flag decides.
* Programming errors (``TypeError``, ``AttributeError``, ``NameError``,
  ``LookupError``, ``AssertionError``, ``NotImplementedError``, ``ValueError``
  including pydantic's ``ValidationError``): permanent - retrying a bug only
  repeats it.
* Any other ``Exception`` (``OSError``/``ConnectionError``/``TimeoutError``,
  SDK transport errors...): transient.
* ``BaseException`` that is not an ``Exception`` (``KeyboardInterrupt``,
  ``SystemExit``, the sandbox's ``SimulatedCrash``) is never caught: like a
  process death it propagates and leaves the write-ahead record behind.

Only a ``ProviderError``'s message is shown to users (the adapter contract
says it never holds a credential); for any other exception only its type
name is shown or logged, since its text could contain anything.

Transient errors are retried with exponential backoff and jitter
(``tenacity``), honouring a provider's ``retry_after``.
"""

from __future__ import annotations

import logging
import random
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import tenacity

from docks.adapters.base import (
    Adapter,
    AlreadyExists,
    ProviderError,
    ResourceResult,
    ResourceType,
    SpecModel,
)

from .errors import StepError
from .references import UNKNOWN

logger = logging.getLogger(__name__)

T = TypeVar("T")

PROGRAMMING_ERRORS: tuple[type[BaseException], ...] = (
    TypeError,
    AttributeError,
    NameError,
    LookupError,
    AssertionError,
    NotImplementedError,
    ValueError,
)
MAX_BACKOFF = 30.0


# --- diff ---------------------------------------------------------------------


@dataclass(frozen=True)
class Diff:
    """``action`` is create | update | replace | no-op; ``changes`` maps field -> (old, new)."""

    action: str
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)


def diff(
    old_inputs: Mapping[str, Any] | None,
    new_inputs: Mapping[str, Any],
    replace_fields: frozenset[str] | set[str],
) -> Diff:
    """Compare recorded inputs with desired ones.

    A field missing on one side equals ``None`` on the other (a field added
    to a model later, with a ``None`` default, is not a change). ``UNKNOWN``
    (plans only) always counts as a change.
    """
    if old_inputs is None:
        return Diff("create", {k: (None, v) for k, v in new_inputs.items() if v is not None})
    changes: dict[str, tuple[Any, Any]] = {}
    for key, new in new_inputs.items():
        old = old_inputs.get(key)
        if new is UNKNOWN or old != new:
            changes[key] = (old, new)
    for key, old in old_inputs.items():
        if key not in new_inputs and old is not None:
            changes[key] = (old, None)
    if not changes:
        return Diff("no-op")
    if any(key in replace_fields for key in changes):
        return Diff("replace", changes)
    return Diff("update", changes)


# --- errors -------------------------------------------------------------------


def classify(exc: Exception, *, provider: str) -> tuple[bool, str]:
    """``(permanent, message safe to show)`` for an exception from an adapter."""
    if isinstance(exc, ProviderError):
        return exc.permanent, exc.message
    name = type(exc).__name__
    if isinstance(exc, PROGRAMMING_ERRORS):
        return True, f"internal error in the {provider} adapter ({name})"
    return False, f"{name} talking to {provider}"


def log_unexpected(exc: BaseException, context: str) -> None:
    """Log where an unexpected exception came from, without its message."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = "; ".join(f"{f.filename}:{f.lineno} in {f.name}" for f in frames[-8:])
    logger.warning("%s: %s at %s", context, type(exc).__name__, where)


# --- retries ------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_base: float = 0.5
    max_backoff: float = MAX_BACKOFF
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, exc: BaseException | None) -> float:
        """Exponential backoff with "equal jitter", at least ``retry_after``."""
        ceiling = min(self.max_backoff, self.backoff_base * (2 ** (attempt - 1)))
        delay = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after > 0:
            delay = max(delay, min(float(retry_after), self.max_backoff))
        return delay


#: Called from a worker thread on each retry: (attempt, max_attempts, message, delay).
RetryNotice = Callable[[int, int, str, float], None]


class _Transient(Exception):
    """Internal: a classified transient failure, so tenacity knows to retry."""

    def __init__(self, message: str, cause: Exception) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause
        self.retry_after = getattr(cause, "retry_after", None)


class ResourceManager:
    """Provider calls for one resource type of one adapter, with retries.

    Runs on worker threads: it never touches state or emits events itself;
    retries are reported through ``on_retry`` (the orchestrator queues them).
    Every method raises ``StepError`` on failure.
    """

    def __init__(
        self,
        adapter: Adapter,
        resource_type: ResourceType,
        *,
        retry: RetryPolicy | None = None,
        on_retry: RetryNotice | None = None,
    ) -> None:
        self.adapter = adapter
        self.rtype = resource_type
        self.retry = retry or RetryPolicy()
        self.on_retry = on_retry

    # --- specs -------------------------------------------------------------
    def stored_spec(self, inputs: Mapping[str, Any] | None) -> SpecModel | None:
        """A spec model from recorded inputs, without re-validating them."""
        if inputs is None:
            return None
        model = self.rtype.spec_model
        return model.model_construct(**{k: v for k, v in inputs.items() if k in model.model_fields})

    def diff(self, old_inputs: Mapping[str, Any] | None, new_inputs: Mapping[str, Any]) -> Diff:
        return diff(old_inputs, new_inputs, self.rtype.replace_fields)

    # --- operations ----------------------------------------------------------
    def create(self, spec: SpecModel, *, token: str) -> ResourceResult:
        """Create (idempotent by ``token``).

        When transient errors exhaust the attempts the create may still have
        happened: ``find`` decides. Found -> it is returned; not found -> a
        certain failure; ``find`` failing too -> ``StepError(uncertain=True)``.
        """
        name = self.rtype.name
        attempts = 0

        def create() -> ResourceResult:
            nonlocal attempts
            attempts += 1
            try:
                return self.adapter.create(name, spec, token=token)
            except AlreadyExists:
                # On the first attempt it existed before we asked: not ours. After a
                # transient failure, it may be our own earlier attempt: find decides.
                found = self.adapter.find(name, spec, token=token) if attempts > 1 else None
                if found is None:
                    raise
                return found

        try:
            return self._call("create", create)
        except StepError as exc:
            if exc.permanent:
                raise
            try:
                found = self.find(spec, token=token)
            except StepError:
                raise StepError(
                    exc.message, permanent=False, attempts=exc.attempts, uncertain=True
                ) from None
            if found is not None:
                return found
            raise

    def find(self, spec: SpecModel, *, token: str) -> ResourceResult | None:
        name = self.rtype.name
        return self._call("find", lambda: self.adapter.find(name, spec, token=token))

    def read(self, provider_resource_id: str, spec: SpecModel | None) -> ResourceResult | None:
        name = self.rtype.name
        return self._call("read", lambda: self.adapter.read(name, provider_resource_id, spec))

    def update(self, provider_resource_id: str, old: SpecModel, new: SpecModel) -> ResourceResult:
        name = self.rtype.name
        return self._call(
            "update", lambda: self.adapter.update(name, provider_resource_id, old, new)
        )

    def delete(self, provider_resource_id: str, spec: SpecModel | None) -> None:
        name = self.rtype.name
        self._call("delete", lambda: self.adapter.delete(name, provider_resource_id, spec))

    # --- retry loop ----------------------------------------------------------
    def _call(self, operation: str, fn: Callable[[], T]) -> T:
        policy = self.retry
        provider = self.adapter.provider

        def attempt() -> T:
            try:
                return fn()
            except Exception as exc:
                permanent, message = classify(exc, provider=provider)
                if not isinstance(exc, ProviderError):
                    log_unexpected(exc, f"{operation} {self.rtype.name} on {provider}")
                if permanent:
                    raise StepError(message, permanent=True) from None
                raise _Transient(message, exc) from None

        # The first attempt runs without tenacity: most calls succeed at once, and
        # setting up its retry loop is a measurable part of a short step.
        try:
            return attempt()
        except _Transient as exc:
            first = exc
        if policy.max_attempts <= 1:
            raise self._gave_up(first)
        self._wait_before(1, first)

        def before_sleep(state: tenacity.RetryCallState) -> None:
            if self.on_retry is None or state.outcome is None:
                return
            exc = state.outcome.exception()
            message = exc.message if isinstance(exc, _Transient) else "transient error"
            delay = state.next_action.sleep if state.next_action else 0.0
            self.on_retry(state.attempt_number + 1, policy.max_attempts, message, delay)

        # attempts 2..max_attempts: tenacity counts them from 1
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(policy.max_attempts - 1),
            wait=lambda state: policy.delay(
                state.attempt_number + 1, state.outcome.exception() if state.outcome else None
            ),
            retry=tenacity.retry_if_exception_type(_Transient),
            sleep=policy.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _Transient as exc:
            raise self._gave_up(exc) from None

    def _wait_before(self, attempt: int, exc: _Transient) -> None:
        """After failed attempt number ``attempt``: report the retry, then back off."""
        delay = self.retry.delay(attempt, exc)
        if self.on_retry is not None:
            self.on_retry(attempt, self.retry.max_attempts, exc.message, delay)
        self.retry.sleep(delay)

    def _gave_up(self, exc: _Transient) -> StepError:
        attempts = self.retry.max_attempts
        return StepError(
            f"{exc.message} (gave up after {attempts} attempts)",
            permanent=False,
            attempts=attempts,
        )
