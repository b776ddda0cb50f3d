"""Looking up the operation an earlier request with the same Idempotency-Key queued."""

from __future__ import annotations

from provisioning.models import Operation
from stackdock.api.base import org_scope
from stackdock.models import Area
from stackdock.permissions import Actor


def operation_for_key(*, actor: Actor, key: str) -> Operation | None:
    """Keys are unique per organization (a database constraint), whoever used them."""
    return (
        Operation.objects.visible_to(org_scope(actor), Area.PROVISIONING)
        .filter(idempotency_key=key)
        .only(
            "pk",
            "kind",
            "resource_id",
            "resource_table",
            "stack_name",
            "dock_id",
            "request_hash",
            "actor_user_id",
            "org_id",
        )
        .first()
    )
