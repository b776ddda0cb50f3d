"""The audit log: filters, pages, CSV and JSON Lines export of the filtered events."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone

from audit.export import csv_lines, jsonl_lines
from audit.selectors import audit_events_for
from frontend.forms import AuditFilterForm
from frontend.views.base import actor_of, dashboard_view, filters_from, page_or_partial, paginate

AUDIT_FILTERS = ("operation", "status", "actor", "target", "since", "until")


def _selector_filters(filters: dict[str, str]) -> dict[str, Any]:
    """The filter form's text as ``audit_events_for`` reads it: the operation is a prefix,
    ``since``/``until`` are whole days (a value that is not a date filters nothing)."""
    out: dict[str, Any] = dict(filters)
    if "operation" in out:
        out["operation"] += "*"
    for bound in ("since", "until"):
        if bound in out:
            try:
                out[bound] = date.fromisoformat(out[bound])
            except ValueError:
                del out[bound]
    return out


@dashboard_view
def audit_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    filters = filters_from(request, AUDIT_FILTERS)
    events = audit_events_for(actor=actor, filters=_selector_filters(filters))
    page = paginate(request, events, per_page=50)
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


@dashboard_view
def audit_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """The filtered events as CSV or JSON Lines (streamed, oldest first)."""
    actor = actor_of(request)
    filters = _selector_filters(filters_from(request, AUDIT_FILTERS))
    events = audit_events_for(actor=actor, filters=filters).order_by("created_at", "id")
    rows = events.iterator(chunk_size=1000)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    slug = actor.org.slug if actor.org is not None else "org"
    if fmt == "csv":
        response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv")
    else:
        response = StreamingHttpResponse(jsonl_lines(rows), content_type="application/jsonl")
    response["Content-Disposition"] = f'attachment; filename="audit-{slug}-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response
