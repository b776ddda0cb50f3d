"""The audit log: filters, pages, CSV and JSON Lines export of the filtered events."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone

from audit.export import csv_lines, jsonl_lines
from audit.models import AuditEvent
from audit.selectors import audit_events_for
from frontend.forms import AuditFilterForm
from frontend.views.base import actor_of, dashboard_view, filters_from, page_or_partial, paginate

AUDIT_FILTERS = ("operation", "status", "actor", "target", "since", "until")
#: who acted: people (users and their API tokens, the default), everyone, or the system
WHO = {"people": ("user", "token"), "all": None, "system": ("system",)}


def _selector_filters(filters: dict[str, str]) -> dict[str, Any]:
    """The filter form's text as ``audit_events_for`` reads it: the operation as the API
    takes it (exact, or a prefix with a trailing ``*``: ``dock.*``), ``since``/``until``
    whole days (a value that is not a date filters nothing)."""
    out: dict[str, Any] = dict(filters)
    for bound in ("since", "until"):
        if bound in out:
            try:
                out[bound] = date.fromisoformat(out[bound])
            except ValueError:
                del out[bound]
    return out


def _who(request: HttpRequest, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    """Only people's events unless ``who`` asks for all or for the system's (credential
    decrypts, syncs and workers otherwise bury what people did)."""
    kinds = WHO.get(request.GET.get("who", "people"), WHO["people"])
    return events if kinds is None else events.filter(actor_type__in=kinds)


@dashboard_view
def audit_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    filters = filters_from(request, AUDIT_FILTERS)
    events = _who(request, audit_events_for(actor=actor, filters=_selector_filters(filters)))
    page = paginate(request, events, per_page=50)
    query = request.GET.urlencode()
    return page_or_partial(
        request,
        "frontend/audit/list.html",
        "frontend/audit/_table.html",
        {
            "page": page,
            "form": AuditFilterForm(request.GET or None),
            "filtered": bool(filters) or request.GET.get("who", "people") != "people",
            "export_query": query,
        },
    )


@dashboard_view
def audit_export(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """The filtered events as CSV or JSON Lines (streamed, oldest first)."""
    actor = actor_of(request)
    filters = _selector_filters(filters_from(request, AUDIT_FILTERS))
    events = _who(request, audit_events_for(actor=actor, filters=filters))
    events = events.order_by("created_at", "id")
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
