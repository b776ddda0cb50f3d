"""Reads only the dashboard needs (the shared ones live in the apps' ``selectors``:
docks, provisioning, audit, and stackdock for members, roles and tokens).

Each one goes through the choke point: ``visible_to`` for tenant-owned rows,
``require`` before reading who holds a grant on a dock.
"""

from __future__ import annotations

from typing import Any, cast

from docks.models import UNIVERSAL_MODELS, Dock
from provisioning.models import TERMINAL_STATUSES, Operation
from provisioning.selectors import operations_for
from stackdock.models import Area, Level, Membership
from stackdock.permissions import GRANT_LEVELS, Actor, require


def resource_counts(*, actor: Actor) -> dict[str, int]:
    return {
        table: model.objects.visible_to(actor, Area.RESOURCES).count()
        for table, model in UNIVERSAL_MODELS.items()
    }


def drifted_resources(*, actor: Actor, limit: int = 10) -> list[tuple[str, Any]]:
    """Resources whose last refresh or sync found drift, newest first (one query per table)."""
    found: list[tuple[str, Any]] = []
    for table, model in UNIVERSAL_MODELS.items():
        rows = (
            model.objects.visible_to(actor, Area.RESOURCES)
            .exclude(drift={})
            .select_related("dock")
            .order_by("-updated_at")[:limit]
        )
        found.extend((table, row) for row in rows)
    found.sort(key=lambda pair: pair[1].updated_at, reverse=True)
    return found[:limit]


def active_and_recent_operations(
    *, actor: Actor, recent: int = 8
) -> tuple[list[Operation], list[Operation]]:
    ops = operations_for(actor=actor)
    active = list(ops.exclude(status__in=TERMINAL_STATUSES)[:20])
    done = list(ops.filter(status__in=TERMINAL_STATUSES)[:recent])
    return active, done


def dock_grants(*, actor: Actor, dock: Dock) -> list[dict[str, Any]]:
    """Who holds an object grant on ``dock``: [{membership, perms}], by user name."""
    from guardian.shortcuts import get_users_with_perms

    require(actor, dock.org, Area.DOCKS, Level.READ, obj=dock)
    users = get_users_with_perms(
        dock, attach_perms=True, with_superusers=False, with_group_users=False
    )
    granted = cast(dict[Any, list[str]], users)  # attach_perms=True: user -> codenames
    by_user = {user.pk: perms for user, perms in granted.items()}
    if not by_user:
        return []
    memberships = Membership.objects.filter(org=dock.org, user_id__in=by_user).select_related(
        "user", "role"
    )
    out = []
    for m in memberships.order_by("user__username"):
        perms = sorted(p for p in by_user[m.user_id] if p in GRANT_LEVELS)
        if perms:
            out.append({"membership": m, "perms": perms})
    return out
