"""Input and output of provision, operations and stacks."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from audit.services import redact
from docks.adapters.base import CENSOR
from provisioning.engine.spec import MAX_DEPTH, too_deep
from provisioning.models import (
    FailurePolicy,
    Operation,
    OperationEvent,
    OperationKind,
    OperationStatus,
    Stack,
    StackResource,
    StateVersion,
)
from stackdock.api.serializers import InputSerializer


# --- provision ------------------------------------------------------------------------------
class ProvisionSerializer(InputSerializer):
    dock = serializers.CharField(max_length=100, help_text="Dock id or name.")
    resource_type = serializers.CharField(max_length=64, help_text="e.g. s3-bucket, r2-bucket.")
    spec = serializers.DictField(help_text="The resource's spec (see GET /providers).")


# --- operations -----------------------------------------------------------------------------
class OperationFilterSerializer(InputSerializer):
    status = serializers.ChoiceField(required=False, choices=OperationStatus.choices)
    kind = serializers.ChoiceField(required=False, choices=OperationKind.choices)
    dock = serializers.CharField(required=False, max_length=100, help_text="Dock id or name.")
    stack = serializers.CharField(required=False, max_length=100, help_text="Stack name.")
    since = serializers.DateTimeField(
        required=False, help_text="Created at or after (ISO 8601 date-time)."
    )


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = OperationEvent
        fields = ["seq", "resource", "action", "status", "message", "duration_ms", "at"]
        read_only_fields = fields


class ProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    total = serializers.IntegerField()


class OperationResourceSerializer(serializers.Serializer):
    table = serializers.CharField()
    id = serializers.IntegerField()
    type = serializers.CharField()


class OperationSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()
    resource = serializers.SerializerMethodField()
    stack = serializers.SerializerMethodField()
    dock = serializers.UUIDField(source="dock_id", read_only=True, allow_null=True)
    actor = serializers.CharField(source="actor_repr", read_only=True)

    class Meta:
        model = Operation
        fields = [
            "id",
            "kind",
            "status",
            "progress",
            "resource",
            "stack",
            "dock",
            "actor",
            "targets",
            "summary",
            "error",
            "cancel_requested",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, op: Operation) -> dict[str, int]:
        return {"done": op.progress_done, "total": op.progress_total}

    @extend_schema_field(OperationResourceSerializer(allow_null=True))
    def get_resource(self, op: Operation) -> dict[str, Any] | None:
        if not op.resource_table or op.resource_id is None:
            return None
        return {"table": op.resource_table, "id": op.resource_id, "type": op.resource_type}

    def get_stack(self, op: Operation) -> str | None:
        return op.stack_name or None


class OperationDetailSerializer(OperationSerializer):
    events = serializers.SerializerMethodField()
    plan = serializers.JSONField(read_only=True)
    drift = serializers.JSONField(read_only=True)

    class Meta(OperationSerializer.Meta):
        fields = [*OperationSerializer.Meta.fields, "plan", "drift", "events"]
        read_only_fields = fields

    @extend_schema_field(EventSerializer(many=True))
    def get_events(self, op: Operation) -> Any:
        return EventSerializer(self.context.get("events", []), many=True).data


class EventsQuerySerializer(InputSerializer):
    events_after = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=2**31,
        help_text="Only events with a larger seq (for cheap polling).",
    )


# --- stacks ---------------------------------------------------------------------------------
class StackSpecField(serializers.JSONField):
    """A stack document: a JSON object, or YAML/JSON text."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict | str):
            raise serializers.ValidationError("Expected an object, or YAML or JSON text.")
        if isinstance(data, str) and too_deep(data):
            raise serializers.ValidationError(f"The document nests deeper than {MAX_DEPTH} levels.")
        return data


class StackCreateSerializer(InputSerializer):
    name = serializers.RegexField(
        r"^[a-z0-9][a-z0-9_-]{0,62}$",
        required=False,
        help_text="Default: the spec's own name.",
    )
    spec = StackSpecField(help_text="The stack document (object, or YAML/JSON text).")
    on_failure = serializers.ChoiceField(
        required=False,
        choices=FailurePolicy.choices,
        help_text="rollback (undo what this apply created) or stop.",
    )


class StackUpdateSerializer(InputSerializer):
    spec = StackSpecField()
    on_failure = serializers.ChoiceField(required=False, choices=FailurePolicy.choices)


class TargetsSerializer(InputSerializer):
    targets = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        max_length=1000,
        help_text="Only these resources (and what they depend on).",
    )


class PlanRequestSerializer(TargetsSerializer):
    spec = StackSpecField(
        required=False,
        help_text="A draft to plan instead of the stored spec (object, or YAML/JSON text); "
        "it is not saved. Deploying the plan makes it the stack's spec.",
    )


class DeployRequestSerializer(TargetsSerializer):
    plan = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="Deploy exactly this plan (its spec and targets); 409 when it is stale. "
        "Without it, the stored spec is planned and applied in one.",
    )


class LockSerializer(serializers.Serializer):
    holder = serializers.CharField(help_text="The operation holding it.")
    since = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class StackResourceSerializer(serializers.ModelSerializer):
    dock = serializers.CharField(source="dock_ref", read_only=True)
    outputs = serializers.SerializerMethodField()

    class Meta:
        model = StackResource
        fields = ["name", "type", "provider", "dock", "status", "provider_resource_id", "outputs"]
        read_only_fields = fields

    def get_outputs(self, res: StackResource) -> dict[str, Any]:
        return redact(dict(res.outputs or {}))


def _lock(stack: Stack) -> dict[str, Any] | None:
    lock = getattr(stack, "lock", None)
    if lock is None:
        return None
    return {"holder": lock.holder, "since": lock.since, "expires_at": lock.expires_at}


class StackSerializer(serializers.ModelSerializer):
    lock = serializers.SerializerMethodField()
    resource_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Stack
        fields = ["name", "on_failure", "resource_count", "lock", "created_at", "updated_at"]
        read_only_fields = fields

    @extend_schema_field(LockSerializer(allow_null=True))
    def get_lock(self, stack: Stack) -> dict[str, Any] | None:
        return _lock(stack)


class StackDetailSerializer(StackSerializer):
    spec = serializers.SerializerMethodField()
    spec_text = serializers.SerializerMethodField()
    resources = serializers.SerializerMethodField()

    class Meta(StackSerializer.Meta):
        fields = [*StackSerializer.Meta.fields, "spec", "spec_text", "resources"]
        read_only_fields = fields

    def get_spec(self, stack: Stack) -> dict[str, Any]:
        return masked_stack_spec(stack.spec)

    def get_spec_text(self, stack: Stack) -> str | None:
        """The document as written (comments kept), unless it holds a secret field."""
        return None if masked_stack_spec(stack.spec) != stack.spec else stack.spec_text

    @extend_schema_field(StackResourceSerializer(many=True))
    def get_resources(self, stack: Stack) -> Any:
        rows = stack.resources.order_by("name")
        return StackResourceSerializer(rows, many=True).data


def masked_stack_spec(spec: Any) -> dict[str, Any]:
    """The stack document with the values of the spec fields each type marks secret masked."""
    from provisioning.registry import get_registry

    if not isinstance(spec, dict):
        return {}
    registry = get_registry()
    resources = spec.get("resources")
    if not isinstance(resources, dict):
        return dict(spec)
    out_resources: dict[str, Any] = {}
    for name, res in resources.items():
        out_resources[name] = res
        if not isinstance(res, dict) or not isinstance(res.get("properties"), dict):
            continue
        secret: frozenset[str] = frozenset()
        for provider in registry.providers():
            types = registry.adapter_class(provider).resource_types
            if res.get("type") in types:
                secret |= types[res["type"]].secret_fields
        if secret & set(res["properties"]):
            props = {k: (CENSOR if k in secret else v) for k, v in res["properties"].items()}
            out_resources[name] = {**res, "properties": props}
    return {**spec, "resources": out_resources}


class PlanChangeSerializer(serializers.Serializer):
    resource = serializers.CharField()
    type = serializers.CharField()
    action = serializers.ChoiceField(choices=["create", "update", "replace", "delete", "no-op"])
    diff = serializers.DictField(help_text='field -> {"old", "new"} (secrets masked)')
    note = serializers.CharField(required=False)


PlanSummarySerializer = type(
    "PlanSummarySerializer",
    (serializers.Serializer,),
    {
        "__module__": __name__,
        **{
            key: serializers.IntegerField()
            for key in ("create", "update", "replace", "delete", "no-op")
        },
    },
)


class PlanSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text='Deploy it with POST .../deploy {"plan": id}.')
    stack = serializers.CharField()
    changes = PlanChangeSerializer(many=True)
    summary = PlanSummarySerializer()
    targets = serializers.ListField(child=serializers.CharField())
    digest = serializers.CharField(help_text="SHA-256 of the spec, the state read and the changes.")
    created_at = serializers.DateTimeField()
    deployed_by = serializers.IntegerField(
        allow_null=True, help_text="The operation that deployed this plan, if any."
    )


class ReleasedLockSerializer(serializers.Serializer):
    holder = serializers.CharField(help_text="The operation that held it.")
    since = serializers.DateTimeField()


class UnlockSerializer(serializers.Serializer):
    released = ReleasedLockSerializer(
        allow_null=True, help_text="The lock that was dropped, if any."
    )


class VersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = StateVersion
        fields = ["number", "summary", "created_at"]
        read_only_fields = fields


# --- import -----------------------------------------------------------------------------------
class ResourceImportSerializer(InputSerializer):
    """``POST /{table}/{id}/import`` takes no fields: the resource is read from its provider."""


class StackImportSerializer(InputSerializer):
    table = serializers.ChoiceField(
        choices=["servers", "web-services", "domains", "databases", "buckets"],
        help_text="The universal table of the discovered row.",
    )
    id = serializers.IntegerField(min_value=1, help_text="The discovered row's id.")
    resource = serializers.CharField(
        max_length=63, help_text="The logical name the resource gets in the stack's spec."
    )


class ImportedSerializer(serializers.Serializer):
    """What an import did: the row now managed, by what, and the properties it read."""

    table = serializers.CharField()
    id = serializers.IntegerField(source="row.pk")
    name = serializers.CharField(source="row.name")
    dock = serializers.CharField(source="row.dock.name")
    resource_type = serializers.CharField(source="row.resource_type")
    provisioning_source = serializers.CharField(source="row.provisioning_source")
    provisioning_state = serializers.CharField(source="row.provisioning_state")
    stack = serializers.SerializerMethodField(help_text="The stack (null: managed alone).")
    resource = serializers.SerializerMethodField(help_text="Its name in the stack's spec.")
    properties = serializers.SerializerMethodField(
        help_text="The spec properties read from the provider (secret fields masked)."
    )
    notes = serializers.ListField(
        child=serializers.CharField(),
        help_text="What the provider does not report, and what was assumed instead.",
    )

    def get_stack(self, obj: Any) -> str | None:
        return None if obj.stack.kind == "single" else obj.stack.name

    def get_resource(self, obj: Any) -> str | None:
        return None if obj.stack.kind == "single" else obj.resource

    @extend_schema_field(serializers.DictField())
    def get_properties(self, obj: Any) -> dict[str, Any]:
        from provisioning.registry import get_registry

        rtype = get_registry().resource_type(obj.row.provider, obj.row.resource_type)
        return {k: (CENSOR if k in rtype.secret_fields else v) for k, v in obj.properties.items()}
