"""Input and output of the providers, docks and resources endpoints.

No output serializer has a credential field: a dock reports which credential
fields are set (``credential_fields``) and when they last changed.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from rest_framework import serializers

from docks.adapters.base import CENSOR
from docks.models import (
    TABLE_FIELDS,
    UNIVERSAL_MODELS,
    Dock,
    ProvisioningSource,
    ProvisioningState,
    UniversalResource,
)
from stackdock.api.serializers import Computed, InputSerializer, ValuesSerializer
from stackdock.outbound import validate_endpoint_url


# --- providers ------------------------------------------------------------------------------
class ResourceTypeSerializer(serializers.Serializer):
    name = serializers.CharField()
    table = serializers.CharField(allow_null=True, help_text="Universal table, or null.")
    description = serializers.CharField(allow_blank=True)
    replace_fields = serializers.ListField(
        child=serializers.CharField(), help_text="Changing these replaces the resource."
    )
    outputs = serializers.ListField(child=serializers.CharField())
    schema = serializers.DictField(help_text="JSON Schema of the spec.")


class ProviderSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    credentialless = serializers.BooleanField()
    credentials = serializers.DictField(help_text="JSON Schema of the credentials.")
    resource_types = ResourceTypeSerializer(many=True)


# --- docks ----------------------------------------------------------------------------------
#: optional URL columns hold "" when unset, which is no URI: describe them as plain strings
_URL_AS_TEXT = {
    **serializers.ModelSerializer.serializer_field_mapping,
    models.URLField: serializers.CharField,
}


class DockSerializer(serializers.ModelSerializer):
    serializer_field_mapping = _URL_AS_TEXT

    class Meta:
        model = Dock
        fields = [
            "id",
            "name",
            "provider",
            "endpoint_url",
            "emulated",
            "credential_fields",
            "credentials_changed_at",
            "previous_credentials_expire_at",
            "sync_status",
            "sync_interval_seconds",
            "last_sync_at",
            "next_sync_at",
            "sync_error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class DockCreateSerializer(InputSerializer):
    name = serializers.CharField(max_length=100)
    provider = serializers.CharField(max_length=32)
    credentials = serializers.DictField(
        required=False,
        default=dict,
        write_only=True,
        help_text="The provider's credentials (see GET /providers); checked live.",
    )
    provisioning_credentials = serializers.DictField(
        required=False,
        allow_null=True,
        write_only=True,
        help_text="Optional separate credentials for provisioning; checked live.",
    )
    endpoint_url = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=500,
        validators=[validate_endpoint_url],
        help_text="Endpoint override (LocalStack, MinIO, moto, an emulator): http(s), "
        "no user:password@, and a host this installation allows "
        "(STACKDOCK_ENDPOINT_ALLOWLIST; none in production by default).",
    )


class DockUpdateSerializer(InputSerializer):
    name = serializers.CharField(max_length=100, required=False)
    endpoint_url = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        validators=[validate_endpoint_url],
        help_text="A new endpoint (blank: the provider's own). Needs credentials: full "
        "and the credentials entered again in the same request; they are checked live "
        "at the new endpoint and replace every stored credential.",
    )
    sync_interval_seconds = serializers.IntegerField(
        required=False, min_value=60, max_value=7 * 86400
    )
    credentials = serializers.DictField(
        required=False,
        write_only=True,
        help_text="Required with a new endpoint_url, refused without one.",
    )
    provisioning_credentials = serializers.DictField(
        required=False,
        write_only=True,
        help_text="With a new endpoint_url, when the dock keeps separate provisioning "
        "credentials (an empty object drops them).",
    )


class RotateCredentialsSerializer(InputSerializer):
    credentials = serializers.DictField(write_only=True)
    grace_seconds = serializers.IntegerField(
        required=False,
        default=3600,
        min_value=0,
        max_value=7 * 86400,
        help_text="How long the previous credentials stay (encrypted) before they are erased.",
    )


class DockDeleteQuerySerializer(serializers.Serializer):
    orphan = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Delete even though StackDock-provisioned resources exist; they stay "
        "in the tables, detached and untracked.",
    )


# --- resources ------------------------------------------------------------------------------
class ResourceFilterSerializer(InputSerializer):
    dock = serializers.CharField(required=False, max_length=100, help_text="Dock id or name.")
    provider = serializers.CharField(required=False, max_length=32)
    provisioning_source = serializers.ChoiceField(
        required=False, choices=ProvisioningSource.choices
    )
    provisioning_state = serializers.ChoiceField(required=False, choices=ProvisioningState.choices)
    search = serializers.CharField(
        required=False, max_length=200, help_text="Part of the name or provider id."
    )


class ResourceUpdateSerializer(InputSerializer):
    spec = serializers.DictField(
        allow_empty=False, help_text="The spec fields to change (merged into the current spec)."
    )
    confirm = serializers.ChoiceField(
        choices=["replace"],
        required=False,
        help_text='"replace" lets an update that cannot happen in place replace the resource '
        "(a new one is created, the old one deleted; the row keeps its id). Without it such "
        "an update is refused with code confirmation_required and the plan.",
    )


def _secret_fields(provider: str, resource_type: str) -> frozenset[str]:
    from provisioning.registry import get_registry

    try:
        return frozenset(get_registry().resource_type(provider, resource_type).secret_fields)
    except Exception:  # an unknown provider or type: nothing known to mask
        return frozenset()


def masked_spec(
    provider: str,
    resource_type: str,
    spec: dict[str, Any] | None,
    cache: dict[Any, Any] | None = None,
) -> dict[str, Any]:
    """A spec with its type's secret fields censored. ``cache`` (one per serialization,
    e.g. one page) keeps the registry look-up to once per type."""
    key = (provider, resource_type)
    secret = cache.get(key) if cache is not None else None
    if secret is None:
        secret = _secret_fields(*key)
        if cache is not None:
            cache[key] = secret
    return {k: (CENSOR if k in secret and v is not None else v) for k, v in (spec or {}).items()}


class ResourceSerializer(serializers.ModelSerializer):
    serializer_field_mapping = _URL_AS_TEXT

    """Columns shared by every universal table."""

    dock = serializers.UUIDField(source="dock_id", read_only=True, allow_null=True)
    dock_name = serializers.SerializerMethodField()
    spec = serializers.SerializerMethodField()

    class Meta:
        model = UniversalResource
        fields = [
            "id",
            "name",
            "dock",
            "dock_name",
            "provider",
            "resource_type",
            "provider_resource_id",
            "status",
            "region",
            "provisioning_source",
            "provisioning_state",
            "provisioned_at",
            "sst_stack_name",
            "sst_resource_id",
            "spec",
            "drift",
            "full_api_data",
            "last_seen_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_dock_name(self, row: UniversalResource) -> str | None:
        return row.dock.name if row.dock is not None else None

    def get_spec(self, row: UniversalResource) -> dict[str, Any]:
        # the list serializer shares this child across the page's rows
        cache = self.__dict__.setdefault("_secret_fields_cache", {})
        return masked_spec(row.provider, row.resource_type, row.spec, cache)


def _table_serializer(table: str) -> type[ResourceSerializer]:
    model = UNIVERSAL_MODELS[table]
    fields = [*ResourceSerializer.Meta.fields, *TABLE_FIELDS[table]]
    meta = type("Meta", (), {"model": model, "fields": fields, "read_only_fields": fields})
    name = f"{model.__name__}Serializer"
    return type(name, (ResourceSerializer,), {"Meta": meta, "__module__": __name__})


#: one output serializer per universal table, by URL name
RESOURCE_SERIALIZERS: dict[str, type[ResourceSerializer]] = {
    table: _table_serializer(table) for table in UNIVERSAL_MODELS
}

#: the same output for list pages, from ``.values()`` rows (``ValuesSerializer``)
_RESOURCE_COMPUTED: dict[str, Computed] = {
    "dock_name": (("dock__name",), lambda row, memo: row["dock__name"]),
    "spec": (
        ("provider", "resource_type", "spec"),
        lambda row, memo: masked_spec(row["provider"], row["resource_type"], row["spec"], memo),
    ),
}
RESOURCE_ROWS: dict[str, ValuesSerializer] = {
    table: ValuesSerializer(serializer, _RESOURCE_COMPUTED)
    for table, serializer in RESOURCE_SERIALIZERS.items()
}
