"""Plans are saved and applied as reviewed (``terraform plan -out`` / ``apply PLAN``).

``plan`` computes what deploying a spec would change - the stack's stored spec, or a
draft carried by the request, which is **not** saved - and stores it as a ``Plan``:
the spec, a digest of the state it read, the changes, and a digest of all three.
``deploy_plan`` queues a deploy of exactly that spec, in the transaction that takes
the stack's lock, and refuses with 409 when the plan is stale: the state changed (an
apply, a refresh, a recovery) or the stored spec was saved after the plan was made.
The plan's spec becomes the stored spec only when its deploy is queued.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from provisioning.models import Plan, Stack, StackResource
from stackdock.exceptions import Conflict, NotFound, ValidationError


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def state_digest(stack: Stack) -> str:
    """What the stack's state records say, in one value (changes with any checkpoint)."""
    rows = StackResource.objects.filter(stack=stack).order_by("name")
    return _digest(
        list(
            rows.values_list(
                "name",
                "type",
                "provider",
                "dock_ref",
                "inputs",
                "outputs",
                "provider_resource_id",
                "status",
                "generation",
                "deletion_policy",
            )
        )
    )


def record(
    *,
    stack: Stack,
    spec: Any,
    spec_text: str,
    targets: list[str] | None,
    result: dict[str, Any],
    created_by: Any,
) -> Plan:
    digest_of_state = state_digest(stack)
    return Plan.objects.create(
        org_id=stack.org_id,
        stack=stack,
        spec=spec,
        spec_text=spec_text,
        targets=list(targets or []),
        state_digest=digest_of_state,
        stack_updated_at=stack.updated_at,
        changes=result["changes"],
        summary=result["summary"],
        digest=_digest([spec, digest_of_state, list(targets or []), result["changes"]]),
        created_by=created_by,
    )


def get(stack: Stack, plan_id: Any) -> Plan:
    try:
        pk = int(plan_id)
    except (TypeError, ValueError):
        raise ValidationError(
            "plan must be the id of a plan of this stack.",
            fields={"plan": ["must be a plan id (a whole number)"]},
        ) from None
    plan = Plan.objects.filter(stack=stack, pk=pk).first()
    if plan is None:
        raise NotFound(f"Stack {stack.name!r} has no plan {pk}.")
    return plan


def check_applies(plan: Plan, stack: Stack) -> None:
    """Inside the transaction holding the stack's lock: 409 unless ``plan`` still says
    what its deploy would do."""
    if plan.operation_id is not None:
        raise Conflict(
            f"Plan {plan.pk} was already deployed by operation {plan.operation_id}; plan again.",
            fields={"plan": ["already deployed"]},
        )
    if state_digest(stack) != plan.state_digest:
        raise Conflict(
            f"Plan {plan.pk} is stale: the stack's state changed since it was made "
            "(another deploy, destroy or refresh). Plan again.",
            fields={"plan": ["stale: the state changed"]},
        )
    if stack.updated_at > plan.stack_updated_at and stack.spec != plan.spec:
        raise Conflict(
            f"Plan {plan.pk} is stale: the stack's spec was saved since it was made. Plan again.",
            fields={"plan": ["stale: the spec changed"]},
        )


def as_dict(plan: Plan) -> dict[str, Any]:
    return {
        "id": plan.pk,
        "stack": plan.stack.name,
        "changes": plan.changes,
        "summary": plan.summary,
        "targets": plan.targets,
        "digest": plan.digest,
        "created_at": plan.created_at,
        "deployed_by": plan.operation_id,
    }
