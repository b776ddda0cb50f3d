"""Reads on stacks and operations, through the choke point."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Count, QuerySet

from provisioning.models import Operation, Stack, StackKind
from stackdock.models import Area
from stackdock.permissions import Actor
from stackdock.utils.ids import is_uuid


def operations_for(
    *, actor: Actor, filters: Mapping[str, Any] | None = None
) -> QuerySet[Operation]:
    qs = Operation.objects.visible_to(actor, Area.PROVISIONING).select_related("dock", "stack")
    filters = filters or {}
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("kind"):
        qs = qs.filter(kind=filters["kind"])
    if filters.get("dock"):
        dock = filters["dock"]
        qs = qs.filter(dock_id=dock) if is_uuid(dock) else qs.filter(dock__name=dock)
    if filters.get("stack"):
        qs = qs.filter(stack__name=filters["stack"])
    if filters.get("since"):
        qs = qs.filter(created_at__gte=filters["since"])
    return qs.order_by("-created_at", "-id")


def operation_get(*, actor: Actor, operation_id: Any) -> Operation:
    return Operation.objects.select_related("dock", "stack", "org").get_visible(
        actor, Area.PROVISIONING, pk=operation_id
    )


def stacks_for(*, actor: Actor) -> QuerySet[Stack]:
    return (
        Stack.objects.visible_to(actor, Area.PROVISIONING)
        .filter(kind=StackKind.STACK)
        .order_by("name")
    )


def stacks_with_state(*, actor: Actor) -> QuerySet[Stack]:
    """``stacks_for`` with each stack's lock and ``resource_count`` (for lists and details)."""
    return (
        stacks_for(actor=actor)
        .select_related("lock")
        .annotate(resource_count=Count("resources", distinct=True))
    )


def stack_get(*, actor: Actor, name: str) -> Stack:
    return Stack.objects.select_related("org").get_visible(
        actor, Area.PROVISIONING, name=name, kind=StackKind.STACK
    )
