"""The audit log as CSV or JSON lines, one line at a time (for a streamed download).

Metadata was redacted when it was written, so every column can be exported.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

from audit.models import AuditEvent

EXPORT_COLUMNS = (
    "created_at",
    "chain",
    "seq",
    "actor_type",
    "actor_repr",
    "actor_token_prefix",
    "operation",
    "status",
    "target_type",
    "target_id",
    "target_repr",
    "metadata",
    "ip",
    "user_agent",
    "request_id",
    "prev_hash",
    "hash",
    "key_id",
)
#: spreadsheet formula starters: such cells get a leading quote in CSV (CSV injection)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def event_row(event: AuditEvent) -> dict[str, Any]:
    """One event as plain values, ``created_at`` in ISO 8601."""
    out: dict[str, Any] = {column: getattr(event, column) for column in EXPORT_COLUMNS}
    out["created_at"] = event.created_at.isoformat()
    return out


def csv_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (JSON for metadata)."""
    if value is None:
        return ""
    text = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


class _Echo:
    """A file-like object whose ``write`` hands the line back to ``csv.writer``'s caller."""

    def write(self, value: str) -> str:
        return value


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    """A header line, then one line per event."""
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    for event in events:
        row = event_row(event)
        yield writer.writerow([csv_cell(row[c]) for c in EXPORT_COLUMNS])


def jsonl_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    """One JSON object per event and line."""
    for event in events:
        yield json.dumps(event_row(event), sort_keys=True, default=str) + "\n"
