"""Audit events as the API shows them (metadata was redacted when it was written)."""

from __future__ import annotations

from rest_framework import serializers

from audit.export import EXPORT_COLUMNS
from audit.models import AuditEvent, AuditStatus
from stackdock.api.serializers import InputSerializer


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", *EXPORT_COLUMNS]
        read_only_fields = fields


class AuditFilterSerializer(InputSerializer):
    operation = serializers.CharField(
        required=False,
        max_length=64,
        help_text="e.g. credential.rotate; a trailing * matches a prefix (dock.*).",
    )
    actor = serializers.CharField(
        required=False, max_length=300, help_text="Part of the actor (user name, token prefix)."
    )
    status = serializers.ChoiceField(required=False, choices=AuditStatus.choices)
    target_type = serializers.CharField(required=False, max_length=64, help_text="e.g. docks.dock")
    since = serializers.DateTimeField(required=False, help_text="At or after (ISO 8601).")
    until = serializers.DateTimeField(required=False, help_text="Before (ISO 8601).")


class AuditExportQuerySerializer(AuditFilterSerializer):
    format = serializers.ChoiceField(
        required=False, default="jsonl", choices=[("csv", "CSV"), ("jsonl", "JSON lines")]
    )
