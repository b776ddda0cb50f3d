"""What an operation's progress bar and its line say: the one place that decides.

Invariant: the progress shown is what happened.

- While an operation is queued or running, the line counts its resources
  (``2 of 4 resources done``) and the bar is blue; once a step failed it is red, and
  while the engine undoes an apply it is amber and says "rolling back".
- Once it ended, the line is the engine's summary (``3 deleted``, ``3 created,
  1 failed, 3 rolled back``), never a count of planned resources that may differ from
  what was done; the bar is full and green only for a success, red after a failure,
  amber after a cancel.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from provisioning.engine.results import SUMMARY_KEYS

#: summary key -> the words for it, in the order the engine lists them
SUMMARY_WORDS = {
    "created": "created",
    "updated": "updated",
    "replaced": "replaced",
    "deleted": "deleted",
    "unchanged": "unchanged",
    "failed": "failed",
    "rolled_back": "rolled back",
    "retained": "kept",
}
assert set(SUMMARY_WORDS) == set(SUMMARY_KEYS), "a summary key without words"
RAW_KEYS = re.compile(r"\b(?:" + "|".join(k for k, v in SUMMARY_WORDS.items() if k != v) + r")\b")


def summary_words(summary: Any) -> str:
    """``{"created": 2, "rolled_back": 1}`` -> ``2 created, 1 rolled back`` ("" if none)."""
    if not isinstance(summary, dict):
        return ""
    return ", ".join(
        f"{summary[k]} {SUMMARY_WORDS[k]}"
        for k in SUMMARY_KEYS
        if isinstance(summary.get(k), int) and summary[k] > 0
    )


@dataclass(frozen=True)
class Progress:
    value: int
    max: int
    #: colour: "run" (blue), "ok" (green), "error" (red), "warn" (amber), "muted" (grey)
    tone: str
    label: str


def _resource_events(events: Iterable[Any]) -> list[Any]:
    return [e for e in events if getattr(e, "resource", "") not in ("", "*")]


def progress_of(op: Any, events: Iterable[Any]) -> Progress:
    """The bar and line for ``op``, given its (latest) events."""
    total = max(op.progress_total or 0, 0)
    done = min(max(op.progress_done or 0, 0), total) if total else 0
    steps = _resource_events(events)
    failed = any(e.status == "failed" for e in steps)
    rolling_back = any(e.status == "rolled_back" for e in steps)
    if op.status == "succeeded":
        return Progress(1, 1, "ok", summary_words(op.summary) or "Nothing to change.")
    if op.status == "failed":
        return Progress(done, total or 1, "error", summary_words(op.summary) or "Nothing was done.")
    if op.status == "cancelled":
        words = summary_words(op.summary)
        return Progress(done, total or 1, "warn", words or "Cancelled before any change.")
    if op.status == "queued":
        return Progress(0, total or 1, "muted", "Not started yet.")
    noun = "resource" if total == 1 else "resources"
    if rolling_back or (failed and _rolls_back(op)):
        undone = sum(1 for e in steps if e.status == "rolled_back")
        return Progress(done, total or 1, "warn", f"A step failed: rolling back ({undone} undone).")
    if failed:
        return Progress(done, total or 1, "error", f"A step failed; {done} of {total} {noun} done.")
    return Progress(done, total or 1, "run", f"{done} of {total} {noun} done.")


def _rolls_back(op: Any) -> bool:
    stack = getattr(op, "stack", None)
    return getattr(stack, "on_failure", "") == "rollback"


#: the one resource of a single-resource operation, as the engine calls it
SINGLE_KEY = "resource"


def step_name(op: Any, resource_name: str | None, event: Any) -> str:
    """Who a step is about, in the member's terms: a stack resource's name; for a
    single-resource operation the resource's own name (not the engine's key)."""
    key = getattr(event, "resource", "") or ""
    if key in ("", "*"):
        return "operation"
    if key == SINGLE_KEY and not _is_stack(op):
        return resource_name or (op.resource_type or "the resource")
    return str(key)


def step_message(op: Any, resource_name: str | None, event: Any) -> str:
    """An event's message in words: no internal name of a single-resource stack, no raw
    summary key (the worker's closing line reads ``created 3, rolled_back 3``)."""
    message = str(getattr(event, "message", "") or "")
    if getattr(event, "resource", "") in ("", "*"):
        message = RAW_KEYS.sub(lambda m: SUMMARY_WORDS[m.group(0)], message)
    stack = getattr(op, "stack", None)
    if stack is not None and not _is_stack(op) and stack.name in message:
        what = resource_name or op.resource_type or "the resource"
        message = message.replace(f"stack {stack.name}", what).replace(stack.name, what)
    return message


def _is_stack(op: Any) -> bool:
    stack = getattr(op, "stack", None)
    return stack is None or getattr(stack, "kind", "stack") == "stack"


def single_resource_name(op: Any) -> str | None:
    """A single-resource operation's resource name, from its spec (the row may be gone)."""
    stack = getattr(op, "stack", None)
    if stack is None or _is_stack(op) or not isinstance(stack.spec, dict):
        return None
    body = (stack.spec.get("resources") or {}).get(SINGLE_KEY) or {}
    name = (body.get("properties") or {}).get("name") if isinstance(body, dict) else None
    return str(name) if name else None


def operation_target(op: Any) -> str:
    """What an operation is about, in words: "stack shop", "my-bucket (s3-bucket)",
    "dock aws-main" for a sync."""
    if op.stack_name and not op.resource_table and _is_stack(op):
        return f"stack {op.stack_name}"
    name = single_resource_name(op)
    if name and op.resource_type:
        return f"{name} ({op.resource_type})"
    if op.resource_type:
        return str(op.resource_type)
    if op.kind == "sync" and op.dock is not None:
        return f"dock {op.dock.name}"
    return "—"
