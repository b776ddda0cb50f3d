"""The audit log: filters, pages, CSV and JSON Lines export of the filtered events."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone

from frontend.forms import AuditFilterForm
from frontend.selectors import AUDIT_FILTERS, audit_events_for
from frontend.views.base import actor_of, dashboard_view, filters_from, page_or_partial, paginate

EXPORT_COLUMNS = (
    "created_at",
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
)


@dashboard_view
def audit_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    filters = filters_from(request, AUDIT_FILTERS)
    page = paginate(request, audit_events_for(actor=actor, filters=filters), per_page=50)
    query = request.GET.urlencode()
    return page_or_partial(
        request,
        "frontend/audit/list.html",
        "frontend/audit/_table.html",
        {
            "page": page,
            "form": AuditFilterForm(request.GET or None),
            "filtered": bool(filters),
            "export_query": query,
        },
    )


def _row(event: Any) -> dict[str, Any]:
    """One event as plain values (metadata is already redacted when written)."""
    out = {col: getattr(event, col) for col in EXPORT_COLUMNS}
    out["created_at"] = event.created_at.isoformat()
    return out


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(events: Any) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    for event in events.iterator(chunk_size=1000):
        row = _row(event)
        row["metadata"] = json.dumps(row["metadata"], sort_keys=True, default=str)
        yield writer.writerow([_cell(row[c]) for c in EXPORT_COLUMNS])


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _jsonl_lines(events: Any) -> Iterator[str]:
    for event in events.iterator(chunk_size=1000):
        yield json.dumps(_row(event), sort_keys=True, default=str) + "\n"


@dashboard_view
def audit_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """The filtered events as CSV or JSON Lines (streamed, oldest first)."""
    actor = actor_of(request)
    events = audit_events_for(actor=actor, filters=filters_from(request, AUDIT_FILTERS))
    events = events.order_by("created_at", "id")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    slug = actor.org.slug if actor.org is not None else "org"
    if fmt == "csv":
        response = StreamingHttpResponse(_csv_lines(events), content_type="text/csv")
    else:
        response = StreamingHttpResponse(_jsonl_lines(events), content_type="application/jsonl")
    response["Content-Disposition"] = f'attachment; filename="audit-{slug}-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response
