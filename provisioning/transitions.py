"""Every operation status change goes through here.

A transition is a conditional UPDATE that must hit exactly one row, so two
workers (or a worker and the reaper) can never both move the same operation.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from provisioning.models import Operation, OperationStatus
from stackdock.exceptions import InvalidTransition

S = OperationStatus
ALLOWED: dict[str, frozenset[str]] = {
    S.QUEUED: frozenset({S.RUNNING, S.CANCELLED, S.FAILED}),
    # running -> queued: the reaper hands an operation whose worker died to another
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED, S.QUEUED}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}


def check(old: str, new: str) -> None:
    """Raise unless the map allows ``old`` -> ``new`` (for statements that move an
    operation by hand-written SQL, like the worker's claim)."""
    if new not in ALLOWED[old]:
        raise InvalidTransition(f"An operation cannot go from {old} to {new}.")


def transition(operation_id: int, old: str, new: str, **fields: Any) -> None:
    """Move ``operation_id`` from ``old`` to ``new`` (and set ``fields``), or raise."""
    check(old, new)
    if new in (S.SUCCEEDED, S.FAILED, S.CANCELLED):
        fields.setdefault("finished_at", timezone.now())
        fields.setdefault("lease_expires_at", None)
    fields.setdefault("updated_at", timezone.now())
    updated = Operation.objects.filter(pk=operation_id, status=old).update(status=new, **fields)
    if updated != 1:
        current = Operation.objects.filter(pk=operation_id).values_list("status", flat=True).first()
        raise InvalidTransition(
            f"Operation {operation_id} is {current or 'gone'}, not {old}; cannot move it to {new}."
        )
