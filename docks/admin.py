"""Admin for docks: credentials can be set or replaced through a form, never displayed;
an existing dock's organization, provider and endpoint cannot be changed here."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from docks.destination import endpoint_allowed
from docks.models import Bucket, Database, Dock, Domain, Server, WebService
from docks.services import dock_set_credentials
from stackdock.admin import admin_actor
from stackdock.exceptions import ValidationError
from stackdock.utils.forms import EndpointField


class JsonSecretField(forms.CharField):
    """A write-only JSON object field: rendered empty, left empty = keep what is stored."""

    widget = forms.PasswordInput(render_value=False)

    def to_python(self, value: Any) -> dict[str, Any] | None:  # type: ignore[override]
        value = super().to_python(value)
        if not value:
            return None
        try:
            parsed = json.loads(value)
        except ValueError:
            raise forms.ValidationError(
                'must be a JSON object, e.g. {"api_token": "..."}'
            ) from None
        if not isinstance(parsed, dict):
            raise forms.ValidationError("must be a JSON object")
        return parsed


class DockAdminForm(forms.ModelForm):
    endpoint_url = EndpointField(
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="Endpoint override (moto, LocalStack, MinIO) on an allow-listed host; "
        "fixed once the dock exists.",
    )
    new_credentials = JsonSecretField(
        required=False, help_text="Replace the API credentials (JSON object). Leave empty to keep."
    )
    new_provisioning_credentials = JsonSecretField(
        required=False,
        help_text="Replace the provisioning credentials (JSON). Leave empty to keep.",
    )

    class Meta:
        model = Dock
        fields = ["org", "name", "provider", "endpoint_url", "emulated", "sync_interval_seconds"]

    def clean_endpoint_url(self) -> str:
        """A new dock's endpoint: the outbound policy, as for every other way in."""
        value = self.cleaned_data.get("endpoint_url") or ""
        try:
            return endpoint_allowed(value)
        except ValidationError as exc:
            raise forms.ValidationError(exc.fields["endpoint_url"]) from None


@admin.register(Dock)
class DockAdmin(admin.ModelAdmin):
    form = DockAdminForm
    list_display = ["name", "org", "provider", "sync_status", "last_sync_at", "emulated"]
    list_filter = ["provider", "sync_status", "org"]
    search_fields = ["name"]
    readonly_fields = [
        "credential_fields",
        "credentials_changed_at",
        "previous_credentials_expire_at",
        "last_sync_at",
        "sync_error",
        "sync_failures",
    ]
    #: what decides where, and on whose behalf, a dock's credentials are sent: fixed once
    #: the dock exists. Moving a dock to another organization is not possible at all; a new
    #: endpoint comes with the credentials entered again (API PATCH /docks/{id}, CLI
    #: ``docks set-endpoint``), checked live.
    fixed_on_change = ("org", "provider", "endpoint_url")

    def get_readonly_fields(self, request: HttpRequest, obj: Dock | None = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, *self.fixed_on_change] if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: Dock, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        creds = form.cleaned_data.get("new_credentials")
        prov = form.cleaned_data.get("new_provisioning_credentials")
        if creds is not None or prov is not None:
            dock_set_credentials(
                actor=admin_actor(request, obj.org),
                dock=obj,
                credentials=creds,
                provisioning_credentials=prov,
            )


class UniversalAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "org",
        "dock",
        "provider",
        "status",
        "provisioning_source",
        "provisioning_state",
    ]
    list_filter = ["provider", "provisioning_source", "provisioning_state"]
    search_fields = ["name", "provider_resource_id"]


for _model in (Server, WebService, Domain, Database, Bucket):
    admin.site.register(_model, UniversalAdmin)
