"""``GET /audit`` and ``GET /audit/export?format=csv|jsonl`` (streamed)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
from audit.export import csv_lines, jsonl_lines
from audit.selectors import audit_events_for
from stackdock.api.base import ApiViewSet


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
