"""``GET /audit`` and ``GET /audit/export?format=csv|jsonl`` (streamed)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from audit.api.serializers import (
    AuditEventSerializer,
    AuditExportQuerySerializer,
    AuditFilterSerializer,
)
from audit.models import AuditEvent
from stackdock.api.base import ApiViewSet
from stackdock.models import Area, Level
from stackdock.permissions import Actor, require

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
#: spreadsheet formula starters: such cells get a leading quote in CSV (CSV injection)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def audit_events_for(*, actor: Actor, filters: Mapping[str, Any]) -> QuerySet[AuditEvent]:
    """The organization's audit events the actor may read, filtered (needs ``audit: read``).

    A selector: it belongs in ``audit/selectors.py`` once that module exists.
    """
    require(actor, actor.org, Area.AUDIT, Level.READ)
    qs = AuditEvent.objects.visible_to(actor, Area.AUDIT, Level.READ)
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
    if filters.get("since"):
        qs = qs.filter(created_at__gte=filters["since"])
    if filters.get("until"):
        qs = qs.filter(created_at__lt=filters["until"])
    return qs.order_by("-created_at", "-id")


def _row(event: AuditEvent) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in EXPORT_COLUMNS:
        value = getattr(event, column)
        out[column] = value.isoformat() if column == "created_at" else value
    return out


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    text = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def csv_lines(events: Iterator[AuditEvent]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(EXPORT_COLUMNS)
    yield flush()
    for event in events:
        row = _row(event)
        writer.writerow([_csv_cell(row[c]) for c in EXPORT_COLUMNS])
        yield flush()


def jsonl_lines(events: Iterator[AuditEvent]) -> Iterator[str]:
    for event in events:
        yield json.dumps(_row(event), sort_keys=True, default=str) + "\n"


class AnyAcceptNegotiation(BaseContentNegotiation):
    """The export chooses its format by ``?format=``; the Accept header does not matter."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> Any:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> Any:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class AuditViewSet(ApiViewSet):
    @extend_schema(
        tags=["audit"],
        summary="The audit log, newest first (audit: read)",
        parameters=[AuditFilterSerializer],
        responses=AuditEventSerializer(many=True),
    )
    def list(self, request: Request) -> Response:
        qs = audit_events_for(actor=self.actor, filters=self.query(AuditFilterSerializer))
        return self.paginated(qs, AuditEventSerializer)


class AuditExportViewSet(ApiViewSet):
    content_negotiation_class = AnyAcceptNegotiation

    @extend_schema(
        tags=["audit"],
        operation_id="audit_export",
        summary="Export the audit log as CSV or JSON lines, streamed (audit: read)",
        parameters=[AuditExportQuerySerializer],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/x-ndjson"): OpenApiTypes.STR,
        },
    )
    def export(self, request: Request) -> StreamingHttpResponse:
        query = self.query(AuditExportQuerySerializer)
        fmt = query.pop("format", "jsonl")
        events = audit_events_for(actor=self.actor, filters=query).iterator(chunk_size=1000)
        if fmt == "csv":
            response = StreamingHttpResponse(csv_lines(events), content_type="text/csv")
        else:
            response = StreamingHttpResponse(
                jsonl_lines(events), content_type="application/x-ndjson"
            )
        slug = self.actor.org.slug if self.actor.org else "audit"
        response["Content-Disposition"] = f'attachment; filename="{slug}-audit.{fmt}"'
        return response
