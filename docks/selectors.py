"""Reads on docks and the universal tables. Every one goes through the choke point."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Q, QuerySet

from docks.models import UNIVERSAL_MODELS, Dock
from stackdock.exceptions import NotFound
from stackdock.models import Area, Level
from stackdock.permissions import Actor
from stackdock.utils.ids import is_uuid

RESOURCE_FILTERS = ("dock", "provider", "provisioning_source", "provisioning_state", "search")


def docks_for(*, actor: Actor, level: str = Level.READ) -> QuerySet[Dock]:
    return Dock.objects.visible_to(actor, Area.DOCKS, level).select_related("org")


def dock_get(*, actor: Actor, dock_id: Any) -> Dock:
    return Dock.objects.select_related("org").get_visible(actor, Area.DOCKS, pk=dock_id)


def provisionable_docks_for(*, actor: Actor) -> QuerySet[Dock]:
    """Docks the actor may provision on (role-wide or by grant)."""
    return Dock.objects.visible_to(actor, Area.PROVISIONING, Level.FULL).select_related("org")


def resource_model(table: str) -> Any:
    try:
        return UNIVERSAL_MODELS[table]
    except KeyError:
        raise NotFound(f"Unknown resource table {table!r}.") from None


def resources_for(
    *, actor: Actor, table: str, filters: Mapping[str, Any] | None = None
) -> QuerySet[Any]:
    """One universal table, as the actor may see it, filtered."""
    model = resource_model(table)
    qs = model.objects.visible_to(actor, Area.RESOURCES).select_related("dock")
    filters = filters or {}
    if filters.get("dock"):
        dock = str(filters["dock"])
        qs = qs.filter(dock_id=dock) if is_uuid(dock) else qs.filter(dock__name=dock)
    for key in ("provider", "provisioning_source", "provisioning_state"):
        if filters.get(key) not in (None, ""):
            qs = qs.filter(**{key: filters[key]})
    if filters.get("search"):
        term = str(filters["search"])
        qs = qs.filter(Q(name__icontains=term) | Q(provider_resource_id__icontains=term))
    return qs.order_by("name", "id")


def resource_get(*, actor: Actor, table: str, resource_id: Any) -> Any:
    model = resource_model(table)
    return model.objects.select_related("dock", "org").get_visible(
        actor, Area.RESOURCES, pk=resource_id
    )
