"""Docks: list, add (provider picker, then a credentials form), detail, rotate, delete."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from docks import services
from docks.adapters.base import Adapter
from docks.models import UNIVERSAL_MODELS, Dock
from docks.selectors import dock_get, docks_for
from frontend import selectors
from frontend.forms import (
    DockDeleteForm,
    DockSettingsForm,
    GrantForm,
    dock_name_field,
    endpoint_field,
)
from frontend.schema_forms import SchemaForm
from frontend.views.base import (
    actor_of,
    dashboard_view,
    error_fields,
    may,
    org_of,
    redirect_to,
)
from provisioning.registry import get_registry
from provisioning.selectors import operations_for
from provisioning.services import dock_sync_request
from stackdock.exceptions import Conflict, NotFound, ValidationError
from stackdock.models import Area, Level
from stackdock.permissions import Actor, require
from stackdock.selectors import member_get, members_for


def _adapter_class(provider: str) -> type[Adapter]:
    registry = get_registry()
    if provider not in registry.providers():
        raise NotFound(f"Unknown provider {provider!r}.")
    return registry.adapter_class(provider)


def _can_connect(actor: Actor) -> bool:
    return may(actor, Area.DOCKS, Level.FULL) and may(actor, Area.CREDENTIALS, Level.FULL)


def _require_connect(actor: Actor) -> None:
    require(actor, actor.org, Area.DOCKS, Level.FULL)
    require(actor, actor.org, Area.CREDENTIALS, Level.FULL)


@dashboard_view
def dock_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if not (may(actor, Area.DOCKS) or actor.granted_dock_ids(Area.DOCKS, Level.READ)):
        require(actor, actor.org, Area.DOCKS, Level.READ)
    docks = list(docks_for(actor=actor).order_by("name"))
    return render(
        request,
        "frontend/docks/list.html",
        {"docks": docks, "can_connect": _can_connect(actor)},
    )


@dashboard_view
def dock_add(request: HttpRequest) -> HttpResponse:
    """Step 1: pick a provider."""
    actor = actor_of(request)
    _require_connect(actor)
    registry = get_registry()
    providers = [registry.adapter_class(p) for p in registry.providers()]
    return render(request, "frontend/docks/add.html", {"providers": providers})


def _credentials_form(cls: type[Adapter], data: Any = None) -> SchemaForm:
    extra = {"name": dock_name_field()}
    if not cls.credentialless:
        extra["endpoint_url"] = endpoint_field()
    return SchemaForm(data, model=cls.credentials_model, prefix_fields=extra)


@dashboard_view
def dock_add_provider(request: HttpRequest, provider: str) -> HttpResponse:
    """Step 2: the credentials form, checked live with the provider on submit."""
    actor = actor_of(request)
    _require_connect(actor)
    cls = _adapter_class(provider)
    form = _credentials_form(cls, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        name = (form.data.get("name") or "").strip()
        if name and docks_for(actor=actor).filter(name=name).exists():
            # said before the live credential check, not after it
            form.add_error(
                "name", f"There is already a dock called {name!r} here: pick another name."
            )
        if form.is_valid():
            try:
                dock = services.dock_connect(
                    actor=actor,
                    org=org_of(actor),
                    name=form.cleaned_data["name"],
                    provider=provider,
                    credentials=form.spec_values(),
                    endpoint_url=form.cleaned_data.get("endpoint_url") or "",
                )
            except (ValidationError, Conflict) as exc:
                form.add_server_errors(exc.fields or {"": [exc.message]}, prefix="credentials.")
            else:
                return redirect_to("frontend:dock", dock.pk)
        status = 400
    return render(
        request,
        "frontend/docks/connect.html",
        {"adapter": cls, "form": form},
        status=status,
    )


def _dock_context(actor: Actor, dock: Dock) -> dict[str, Any]:
    counts = {
        table: model.objects.visible_to(actor, Area.RESOURCES).filter(dock=dock).count()
        for table, model in UNIVERSAL_MODELS.items()
    }
    can_manage = may(actor, Area.DOCKS, Level.FULL, dock_id=None)
    can_grant = can_manage and may(actor, Area.MEMBERS, Level.FULL)
    grants = selectors.dock_grants(actor=actor, dock=dock) if can_manage else []
    members = list(members_for(actor=actor)) if can_grant else []
    return {
        "dock": dock,
        "adapter": get_registry().adapter_class(dock.provider)
        if dock.provider in get_registry().providers()
        else None,
        "counts": counts,
        "operations": list(operations_for(actor=actor, filters={"dock": str(dock.pk)})[:10]),
        "can_manage": can_manage,
        "can_rotate": may(actor, Area.CREDENTIALS, Level.FULL),
        "can_grant": can_grant,
        "grants": grants,
        "grant_form": GrantForm(members=members) if can_grant else None,
        "settings_form": DockSettingsForm(
            initial={"name": dock.name, "sync_interval_seconds": dock.sync_interval_seconds}
        )
        if can_manage
        else None,
    }


@dashboard_view
def dock_detail(request: HttpRequest, dock_id: Any) -> HttpResponse:
    actor = actor_of(request)
    dock = dock_get(actor=actor, dock_id=dock_id)
    context = _dock_context(actor, dock)
    status = 200
    if request.method == "POST":  # the settings form
        form = DockSettingsForm(request.POST)
        context["settings_form"] = form
        if form.is_valid():
            try:
                services.dock_update(
                    actor=actor,
                    dock=dock,
                    name=form.cleaned_data["name"],
                    sync_interval_seconds=form.cleaned_data["sync_interval_seconds"],
                )
            except (ValidationError, Conflict) as exc:
                for field, messages in (exc.fields or {"": [exc.message]}).items():
                    for message in messages:
                        form.add_error(field if field in form.fields else None, message)
            else:
                return redirect_to("frontend:dock", dock.pk)
        status = 400
    return render(request, "frontend/docks/detail.html", context, status=status)


@dashboard_view
@require_POST
def dock_sync(request: HttpRequest, dock_id: Any) -> HttpResponse:
    actor = actor_of(request)
    dock = dock_get(actor=actor, dock_id=dock_id)
    op = dock_sync_request(actor=actor, dock=dock)
    return redirect_to("frontend:operation", op.pk)


@dashboard_view
def dock_rotate(request: HttpRequest, dock_id: Any) -> HttpResponse:
    actor = actor_of(request)
    dock = dock_get(actor=actor, dock_id=dock_id)
    require(actor, dock.org, Area.CREDENTIALS, Level.FULL, obj=dock)
    cls = _adapter_class(dock.provider)
    from django import forms

    grace = forms.IntegerField(
        label="Keep the previous credentials for (seconds)",
        initial=3600,
        min_value=0,
        max_value=7 * 86400,
        help_text="Operations already running keep working with them meanwhile.",
    )
    form = SchemaForm(
        request.POST if request.method == "POST" else None,
        model=cls.credentials_model,
        prefix_fields={"grace_seconds": grace},
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.credentials_rotate(
                    actor=actor,
                    dock=dock,
                    credentials=form.spec_values(),
                    grace_seconds=form.cleaned_data["grace_seconds"],
                )
            except ValidationError as exc:
                form.add_server_errors(exc.fields or {"": [exc.message]}, prefix="credentials.")
            else:
                return redirect_to("frontend:dock", dock.pk)
        status = 400
    return render(
        request,
        "frontend/docks/rotate.html",
        {"dock": dock, "adapter": cls, "form": form},
        status=status,
    )


@dashboard_view
def dock_delete(request: HttpRequest, dock_id: Any) -> HttpResponse:
    """A confirmation page (GET); the deletion (POST, with the dock's name typed)."""
    actor = actor_of(request)
    dock = dock_get(actor=actor, dock_id=dock_id)
    require(actor, dock.org, Area.DOCKS, Level.FULL, obj=dock)
    managed = sum(
        model.objects.filter(dock=dock, provisioning_source__in=["api", "sst"]).count()
        for model in UNIVERSAL_MODELS.values()
    )
    form = DockDeleteForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid() and form.cleaned_data["confirm_name"].strip() != dock.name:
            form.add_error("confirm_name", "That is not this dock's name.")
        if form.is_valid():
            try:
                services.dock_delete(actor=actor, dock=dock, orphan=form.cleaned_data["orphan"])
            except Conflict as exc:
                form.add_error(None, exc.message)
            else:
                return redirect_to("frontend:docks")
        status = 400
    return render(
        request,
        "frontend/docks/delete.html",
        {"dock": dock, "form": form, "managed": managed},
        status=status,
    )


@dashboard_view
@require_POST
def dock_grants(request: HttpRequest, dock_id: Any) -> HttpResponse:
    """Give or take back a member's grant on this dock."""
    actor = actor_of(request)
    dock = dock_get(actor=actor, dock_id=dock_id)
    form = GrantForm(request.POST, members=members_for(actor=actor))
    if not form.is_valid():
        raise ValidationError("Pick a member and a grant.", fields=error_fields(form))
    membership = member_get(actor=actor, member_id=form.cleaned_data["membership"])
    action = (
        services.dock_grant_revoke
        if request.POST.get("action") == "revoke"
        else services.dock_grant
    )
    action(actor=actor, dock=dock, membership=membership, perm=form.cleaned_data["perm"])
    return redirect_to("frontend:dock", dock.pk)
