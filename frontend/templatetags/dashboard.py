"""Template helpers for the dashboard: times, badges, links, safe data display."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince, timeuntil

from audit.services import redact
from frontend.progress import operation_target as _operation_target
from frontend.progress import summary_words

register = template.Library()

#: status or state -> badge colour class
BADGE_CLASSES = {
    "succeeded": "ok",
    "success": "ok",
    "ok": "ok",
    "provisioned": "ok",
    "active": "ok",
    "running": "run",
    "queued": "wait",
    "syncing": "run",
    "provisioning": "run",
    "deprovisioning": "run",
    "started": "run",
    "retrying": "warn",
    "failed": "error",
    "failure": "error",
    "error": "error",
    "denied": "error",
    "cancelled": "muted",
    "never": "muted",
    "skipped": "muted",
    "rolled_back": "warn",
    "create": "ok",
    "update": "warn",
    "replace": "replace",
    "delete": "error",
    "no-op": "muted",
    "api": "info",
    "sst": "info",
    "manual": "muted",
    "drift": "warn",
    "created": "ok",
    "pending_create": "run",
    "declared": "run",
    "pending_update": "run",
    "pending_delete": "run",
}


def _exact(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _time_tag(value: datetime, text: str) -> SafeString:
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', value.isoformat(), _exact(value), text
    )


@register.filter
def reltime(value: datetime | None, empty: str = "never") -> SafeString | str:
    """``<time>`` showing "5 minutes ago" ("just now" under a minute, never "0 minutes
    ago"), with the exact UTC time on hover."""
    if not value:
        return empty
    now = timezone.now()
    seconds = (value - now).total_seconds()
    if abs(seconds) < 60:
        text = "just now" if seconds <= 0 else "in under a minute"
    elif seconds < 0:
        text = f"{timesince(value, now)} ago"
    else:
        text = f"in {timeuntil(value, now)}"
    return _time_tag(value, text)


@register.filter
def next_time(value: datetime | None, empty: str = "—") -> SafeString | str:
    """When something is due: "in 5 minutes", or "due now" once the time has come."""
    if not value:
        return empty
    now = timezone.now()
    if (value - now).total_seconds() < 60:
        return _time_tag(value, "due now")
    return _time_tag(value, f"in {timeuntil(value, now)}")


@register.filter
def clock(value: datetime | None) -> SafeString | str:
    """A time of day: UTC with its zone, turned into the browser's local time by app.js
    (the UTC time stays on hover)."""
    if not value:
        return ""
    utc = value.astimezone(UTC)
    return format_html(
        '<time datetime="{}" title="{}" data-local="time">{} UTC</time>',
        value.isoformat(),
        _exact(value),
        utc.strftime("%H:%M:%S"),
    )


#: a universal table's name -> (one, many) in words
TABLE_WORDS = {
    "servers": ("server", "servers"),
    "web-services": ("web service", "web services"),
    "domains": ("domain", "domains"),
    "databases": ("database", "databases"),
    "buckets": ("bucket", "buckets"),
}


@register.filter
def table_title(table: str) -> str:
    """``web-services`` -> ``Web services`` (as the menu says)."""
    words = TABLE_WORDS.get(str(table), (str(table), str(table)))[1]
    return words[:1].upper() + words[1:]


@register.filter
def count_of(n: Any, table: str) -> str:
    """``1, "servers"`` -> ``1 server``; ``3, "web-services"`` -> ``3 web services``."""
    one, many = TABLE_WORDS.get(str(table), (str(table), str(table)))
    return f"{n} {one if n == 1 else many}"


@register.filter
def show(value: Any) -> str:
    """A value as the dashboard shows it: "—" for nothing, yes/no for booleans, a list
    as "a, b", a flat mapping as "k=v, k=v" (never Python's True/False/None)."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(show(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={show(v)}" for k, v in value.items())
    return str(value)


#: status, state or action values whose words differ from the value (the rest: the value
#: with "_" and "-" as spaces). A badge never shows a raw value such as ``rolled_back``.
BADGE_WORDS = {
    "rolled_back": "rolled back",
    "no-op": "no change",
    "pending_create": "being created",
    "declared": "being created",
    "pending_update": "being updated",
    "pending_delete": "being deleted",
    "ok": "OK",
    "never": "never synced",
    "sst": "in a stack",
    "api": "provisioned alone",
    "manual": "discovered",
}


def badge_words(value: Any) -> str:
    """A status, state or action value in words: ``rolled_back`` -> ``rolled back``."""
    text = str(value)
    return BADGE_WORDS.get(text, text.replace("_", " ").replace("-", " "))


@register.filter
def badge_class(value: Any) -> str:
    return BADGE_CLASSES.get(str(value or ""), "muted")


@register.simple_tag
def badge(value: Any, label: Any = None) -> SafeString | str:
    """A coloured pill for a status, state, source or plan action."""
    if value in (None, ""):
        return ""
    text = label if label not in (None, "") else badge_words(value)
    return format_html('<span class="badge badge-{}">{}</span>', badge_class(value), text)


@register.filter
def operation_url(op: Any) -> str:
    """Where an operation's live status lives: the wizard's page for a provision."""
    if op.kind == "provision" and op.resource_type and op.dock_id and op.dock is not None:
        return reverse(
            "frontend:provision-status", args=[op.dock.provider, op.resource_type, op.pk]
        )
    return reverse("frontend:operation", args=[op.pk])


@register.filter
def resource_url(row: Any, table: str) -> str:
    return reverse("frontend:resource", args=[table, row.pk])


@register.filter
def censored(value: Any) -> Any:
    """Any key naming a secret is replaced by ******** (defence in depth)."""
    return redact(value)


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(redact(value), indent=2, sort_keys=True, default=str)


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


@register.filter
def short_value(value: Any) -> str:
    """A plan diff value on one line ("—" for none, yes/no for booleans)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        text = json.dumps(value, sort_keys=True, default=str)
    else:
        text = str(value)
    return text if len(text) <= 120 else text[:117] + "…"


@register.filter
def percent(done: int, total: int) -> int:
    if not total:
        return 0
    return max(0, min(100, round(100 * (done or 0) / total)))


@register.filter
def get_attr(obj: Any, name: str) -> Any:
    """A model column by name (only plain attributes, never methods or private names)."""
    if name.startswith("_"):
        return None
    value = getattr(obj, name, None)
    return None if callable(value) else value


@register.filter
def field_label(name: str) -> str:
    """``primary_ip`` -> ``Primary ip``."""
    return str(name).replace("_", " ").capitalize()


@register.filter
def type_description(rtype: Any) -> str:
    """A resource type's description, else its spec model's docstring (first line)."""
    if rtype.description:
        return str(rtype.description)
    doc = (rtype.spec_model.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


@register.filter
def summary_text(summary: Any) -> str:
    """``{"created": 2, "rolled_back": 1}`` -> ``2 created, 1 rolled back``."""
    return summary_words(summary)


@register.filter
def operation_target(op: Any) -> str:
    """What an operation is about, in words (frontend.progress.operation_target)."""
    return _operation_target(op)


@register.filter
def duration(seconds: Any) -> str:
    """``3600`` -> ``1 hour``; ``90`` -> ``90 seconds``."""
    try:
        n = int(seconds)
    except (TypeError, ValueError):
        return str(seconds)
    for size, one, many in (
        (86400, "day", "days"),
        (3600, "hour", "hours"),
        (60, "minute", "minutes"),
    ):
        if n >= size and n % size == 0:
            k = n // size
            return f"{k} {one if k == 1 else many}"
    return f"{n} second{'' if n == 1 else 's'}"


#: provisioning_source values (the seed's schema) in words
SOURCE_WORDS = {"sst": "managed by a stack", "api": "provisioned alone", "manual": "discovered"}


@register.filter
def source_words(row: Any) -> str:
    """Where a resource comes from: "managed by stack shop", "provisioned alone",
    "discovered" (by a sync)."""
    source = getattr(row, "provisioning_source", "") or ""
    if source == "sst" and getattr(row, "sst_stack_name", ""):
        return f"managed by stack {row.sst_stack_name}"
    return SOURCE_WORDS.get(source, badge_words(source) if source else "—")


#: a plan's summary keys in words ("2 to create", "3 unchanged")
PLAN_WORDS = {
    "create": "to create",
    "update": "to update",
    "replace": "to replace",
    "delete": "to delete",
    "no-op": "unchanged",
}


@register.filter
def plan_words(action: Any) -> str:
    return PLAN_WORDS.get(str(action), badge_words(action))


@register.filter
def by_privilege(items: Any) -> list[Any]:
    """Roles (or rows with a "role") most privileged first (frontend.forms.role_privilege)."""
    from frontend.forms import role_privilege

    def key(item: Any) -> tuple[int, int, str]:
        return role_privilege(item["role"] if isinstance(item, dict) else item)

    return sorted(items, key=key)


@register.filter
def sorted_items(mapping: Any) -> list[tuple[Any, Any]]:
    """A mapping's items sorted by key (nothing for anything else)."""
    return sorted(mapping.items(), key=lambda kv: str(kv[0])) if isinstance(mapping, dict) else []


@register.filter
def type_counts(adapter: Any) -> str:
    """How many resource types a provider offers, the same on every page: "4 resource
    types, and 1 more in stacks only" (types that fill no universal table, such as a DNS
    record, are provisioned inside a stack)."""
    types = list(getattr(adapter, "resource_types", {}).values())
    alone = sum(1 for t in types if t.table is not None)
    text = f"{alone} resource type{'' if alone == 1 else 's'}"
    if len(types) > alone:
        text += f", and {len(types) - alone} more in stacks only"
    return text
