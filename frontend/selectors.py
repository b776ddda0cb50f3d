"""Reads only the dashboard needs (the shared ones live in docks/ and provisioning/).

Each one goes through the choke point: ``visible_to`` for tenant-owned rows,
``require`` before reading the organization's members, roles and tokens
(whose models have no ``visible_to``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any, cast

from django.db.models import Count, QuerySet
from django.utils import timezone

from audit.models import AuditEvent
from docks.models import UNIVERSAL_MODELS, Dock
from provisioning.models import TERMINAL_STATUSES, Operation, Stack
from provisioning.selectors import operations_for, stacks_for
from stackdock.exceptions import NotFound
from stackdock.models import ApiToken, Area, Level, Membership, Role
from stackdock.permissions import GRANT_LEVELS, Actor, require

AUDIT_FILTERS = ("operation", "status", "actor", "target", "since", "until")


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


def stacks_with_state(*, actor: Actor) -> QuerySet[Stack]:
    return (
        stacks_for(actor=actor)
        .select_related("lock")
        .annotate(resource_count=Count("resources", distinct=True))
    )


def _day_bound(value: str, end: bool) -> datetime | None:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    moment = datetime.combine(day, time.max if end else time.min)
    return timezone.make_aware(moment, timezone.get_current_timezone())


def audit_events_for(*, actor: Actor, filters: Mapping[str, str] | None = None) -> QuerySet:
    """The organization's audit log, newest first. Needs ``audit: read``."""
    require(actor, actor.org, Area.AUDIT, Level.READ)
    qs = AuditEvent.objects.visible_to(actor, Area.AUDIT)
    filters = filters or {}
    if filters.get("operation"):
        qs = qs.filter(operation__startswith=filters["operation"])
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("actor"):
        qs = qs.filter(actor_repr__icontains=filters["actor"])
    if filters.get("target"):
        qs = qs.filter(target_repr__icontains=filters["target"])
    if filters.get("since") and (since := _day_bound(filters["since"], end=False)):
        qs = qs.filter(created_at__gte=since)
    if filters.get("until") and (until := _day_bound(filters["until"], end=True)):
        qs = qs.filter(created_at__lte=until)
    return qs.order_by("-created_at", "-id")


def members_for(*, actor: Actor) -> QuerySet[Membership]:
    require(actor, actor.org, Area.MEMBERS, Level.READ)
    return (
        Membership.objects.filter(org=actor.org)
        .select_related("user", "role", "org")
        .order_by("user__username")
    )


def member_get(*, actor: Actor, membership_id: Any) -> Membership:
    try:
        return members_for(actor=actor).get(pk=int(membership_id))
    except (Membership.DoesNotExist, TypeError, ValueError):
        raise NotFound("Member not found.") from None


def roles_for(*, actor: Actor) -> QuerySet[Role]:
    """Every role of the organization; any member may read them (to pick or understand one)."""
    if actor.org is None:
        return Role.objects.none()
    return (
        Role.objects.filter(org=actor.org)
        .annotate(member_count=Count("memberships"))
        .order_by("-builtin", "name")
    )


def role_get(*, actor: Actor, role_id: Any) -> Role:
    try:
        return roles_for(actor=actor).select_related("org").get(pk=int(role_id))
    except (Role.DoesNotExist, TypeError, ValueError):
        raise NotFound("Role not found.") from None


def tokens_for(*, actor: Actor) -> QuerySet[ApiToken]:
    """Your own tokens; with ``members: full``, every token of the organization."""
    qs = ApiToken.objects.select_related("membership__user", "membership__org")
    if actor.membership is None:
        return qs.none()
    if actor.allows(Area.MEMBERS, Level.FULL):
        return qs.filter(membership__org=actor.org).order_by("-created_at")
    return qs.filter(membership=actor.membership).order_by("-created_at")


def token_get(*, actor: Actor, token_id: Any) -> ApiToken:
    try:
        return tokens_for(actor=actor).get(pk=int(token_id))
    except (ApiToken.DoesNotExist, TypeError, ValueError):
        raise NotFound("Token not found.") from None


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
