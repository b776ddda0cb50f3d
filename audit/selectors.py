"""Reads on the audit log, for the API and the dashboard alike."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from audit.models import AuditEvent
from stackdock.models import Area, Level
from stackdock.permissions import Actor, require


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def _day_end(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.max), timezone.get_current_timezone())


def audit_events_for(
    *, actor: Actor, filters: Mapping[str, Any] | None = None
) -> QuerySet[AuditEvent]:
    """The organization's audit events, newest first (needs ``audit: read``), filtered by:

    - ``operation``: the exact name, or a prefix with a trailing ``*`` (``dock.*``);
    - ``status`` and ``target_type``: exact; ``actor`` and ``target``: part of
      ``actor_repr`` / ``target_repr``, any case;
    - ``since`` and ``until``: a ``datetime`` is an instant (``since`` included,
      ``until`` not); a ``date`` is a whole day in the current time zone (both
      included), as the dashboard's date pickers mean it.

    Empty values filter nothing.
    """
    require(actor, actor.org, Area.AUDIT, Level.READ)
    qs = AuditEvent.objects.visible_to(actor, Area.AUDIT, Level.READ)
    filters = filters or {}
    operation = filters.get("operation")
    if operation:
        if operation.endswith("*"):
            qs = qs.filter(operation__startswith=operation[:-1])
        else:
            qs = qs.filter(operation=operation)
    if filters.get("actor"):
        qs = qs.filter(actor_repr__icontains=filters["actor"])
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("target_type"):
        qs = qs.filter(target_type=filters["target_type"])
    if filters.get("target"):
        qs = qs.filter(target_repr__icontains=filters["target"])
    since = filters.get("since")
    if isinstance(since, datetime):
        qs = qs.filter(created_at__gte=since)
    elif isinstance(since, date):
        qs = qs.filter(created_at__gte=_day_start(since))
    until = filters.get("until")
    if isinstance(until, datetime):
        qs = qs.filter(created_at__lt=until)
    elif isinstance(until, date):
        qs = qs.filter(created_at__lte=_day_end(until))
    return qs.order_by("-created_at", "-id")
