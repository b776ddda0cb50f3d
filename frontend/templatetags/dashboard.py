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


@register.filter
def reltime(value: datetime | None, empty: str = "never") -> SafeString | str:
    """``<time>`` showing "5 minutes ago", with the exact UTC time on hover."""
    if not value:
        return empty
    now = timezone.now()
    exact = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if value <= now:
        delta = now - value
        text = "just now" if delta.total_seconds() < 45 else f"{timesince(value, now)} ago"
    else:
        text = f"in {timeuntil(value, now)}"
    return format_html('<time datetime="{}" title="{}">{}</time>', value.isoformat(), exact, text)


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
    """A plan diff value on one line."""
    if value is None:
        return "—"
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
