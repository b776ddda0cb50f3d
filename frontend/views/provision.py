"""The provisioning wizard and live operation status.

provider -> resource type -> a form generated from the type's spec model ->
the status page, which polls (htmx, every second) only while the operation
is not terminal: the fragment returned for a finished operation carries no
``hx-trigger``, so polling stops by itself.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_POST

from docks.adapters.base import Adapter, ResourceType
from docks.models import UNIVERSAL_MODELS, Dock
from docks.selectors import provisionable_docks_for
from frontend.forms import OperationFilterForm
from frontend.progress import progress_of, single_resource_name, step_message, step_name
from frontend.schema_forms import SchemaForm
from frontend.templatetags.dashboard import operation_url
from frontend.views.base import (
    actor_of,
    dashboard_view,
    filters_from,
    may,
    may_provision_somewhere,
    new_idempotency_key,
    page_or_partial,
    paginate,
    redirect_to,
)
from provisioning.models import Operation
from provisioning.registry import get_registry
from provisioning.selectors import operation_get, operations_for
from provisioning.services import operation_cancel, request_fingerprint, resource_provision
from stackdock.exceptions import Conflict, NotFound, ValidationError
from stackdock.models import Area, Level
from stackdock.permissions import Actor, require

#: how many of an operation's events the status panel shows (the newest)
MAX_EVENTS = 300


def _require_provisioner(actor: Actor) -> None:
    """Anyone with ``provisioning: full`` or a provision grant on some dock; else 403 (audited)."""
    if not may_provision_somewhere(actor):
        require(actor, actor.org, Area.PROVISIONING, Level.FULL)


def _adapter(provider: str) -> type[Adapter]:
    registry = get_registry()
    if provider not in registry.providers():
        raise NotFound(f"Unknown provider {provider!r}.")
    return registry.adapter_class(provider)


def _provisionable_types(cls: type[Adapter]) -> list[ResourceType]:
    """Types that fill a universal table (the others exist only inside stacks)."""
    return [t for t in cls.resource_types.values() if t.table is not None]


def _resource_type(provider: str, resource_type: str) -> tuple[type[Adapter], ResourceType]:
    cls = _adapter(provider)
    rtype = cls.resource_types.get(resource_type)
    if rtype is not None and rtype.table is None:
        raise NotFound(
            f"A {cls.label} {resource_type} is provisioned inside a stack, not alone here "
            f"(it fills no resource table): write it in a stack, next to what it belongs to."
        )
    if rtype is None:
        alone = ", ".join(t.name for t in _provisionable_types(cls))
        raise NotFound(f"{cls.label} has no resource type {resource_type!r}. It has: {alone}.")
    return cls, rtype


@dashboard_view
def provision_start(request: HttpRequest) -> HttpResponse:
    """Step 1: pick a provider (with how many docks you may provision on for each)."""
    actor = actor_of(request)
    _require_provisioner(actor)
    docks = list(provisionable_docks_for(actor=actor))
    registry = get_registry()
    providers = []
    for name in registry.providers():
        cls = registry.adapter_class(name)
        providers.append(
            {
                "adapter": cls,
                "dock_count": sum(1 for d in docks if d.provider == name),
                "types": _provisionable_types(cls),
            }
        )
    can_connect = may(actor, Area.DOCKS, Level.FULL) and may(actor, Area.CREDENTIALS, Level.FULL)
    return render(
        request,
        "frontend/provision/start.html",
        {"providers": providers, "can_connect": can_connect},
    )


@dashboard_view
def provision_provider(request: HttpRequest, provider: str) -> HttpResponse:
    """Step 2: pick a resource type."""
    actor = actor_of(request)
    _require_provisioner(actor)
    cls = _adapter(provider)
    docks = list(provisionable_docks_for(actor=actor).filter(provider=provider))
    return render(
        request,
        "frontend/provision/provider.html",
        {
            "adapter": cls,
            "types": _provisionable_types(cls),
            "in_stacks": [t for t in cls.resource_types.values() if t.table is None],
            "docks": docks,
        },
    )


def _provision_form(rtype: ResourceType, docks: list[Dock], data: Any = None) -> SchemaForm:
    dock = forms.ChoiceField(
        label="Dock",
        choices=[(str(d.pk), d.name) for d in docks],
        help_text="Only the docks you may provision on are listed.",
        initial=str(docks[0].pk) if len(docks) == 1 else None,
    )
    key = forms.CharField(widget=forms.HiddenInput, initial=new_idempotency_key())
    return SchemaForm(
        data,
        model=rtype.spec_model,
        prefix_fields={"dock": dock, "idempotency_key": key},
        secret_fields=rtype.secret_fields,
    )


@dashboard_view
def provision_form(request: HttpRequest, provider: str, resource_type: str) -> HttpResponse:
    """Step 3: the spec form. The service validates; its errors land beside the inputs."""
    actor = actor_of(request)
    _require_provisioner(actor)
    cls, rtype = _resource_type(provider, resource_type)
    docks = list(provisionable_docks_for(actor=actor).filter(provider=provider).order_by("name"))
    form = _provision_form(rtype, docks, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            dock = next(d for d in docks if str(d.pk) == form.cleaned_data["dock"])
            spec = form.spec_values()
            body = {"dock": str(dock.pk), "resource_type": resource_type, "spec": spec}
            try:
                op = resource_provision(
                    actor=actor,
                    dock=dock,
                    resource_type=resource_type,
                    spec=spec,
                    idempotency_key=form.cleaned_data["idempotency_key"],
                    request_hash=request_fingerprint(body),
                )
            except (ValidationError, Conflict) as exc:
                form.add_server_errors(exc.fields or {"": [exc.message]}, prefix="spec.")
                if isinstance(exc, Conflict):  # a reused key: a fresh one for the next try
                    data = request.POST.copy()
                    data["idempotency_key"] = new_idempotency_key()
                    form.data = data
            else:
                return redirect_to("frontend:provision-status", provider, resource_type, op.pk)
        status = 400
    return render(
        request,
        "frontend/provision/form.html",
        {"adapter": cls, "rtype": rtype, "form": form, "docks": docks},
        status=status,
    )


# --- live status --------------------------------------------------------------------------


def status_context(actor: Actor, op: Operation, poll_url: str) -> dict[str, Any]:
    """What the status panel shows; constant queries (operation, events, resource)."""
    events = list(op.events.order_by("-seq")[:MAX_EVENTS])
    events.reverse()
    resource = None
    if op.resource_table in UNIVERSAL_MODELS and op.resource_id is not None:
        resource = (
            UNIVERSAL_MODELS[op.resource_table]
            .objects.visible_to(actor, Area.RESOURCES)
            .filter(pk=op.resource_id)
            .first()
        )
    name = resource.name if resource is not None else single_resource_name(op)
    for event in events:  # in the member's terms (no engine keys or internal stack names)
        event.label = step_name(op, name, event)  # type: ignore[attr-defined]
        event.text = step_message(op, name, event)  # type: ignore[attr-defined]
    return {
        "op": op,
        "events": events,
        "resource": resource,
        "progress": progress_of(op, events),
        "poll_url": poll_url,
        "can_cancel": not op.is_terminal
        and may(actor, Area.PROVISIONING, Level.FULL, dock_id=op.dock_id),
    }


@dashboard_view
def provision_status(
    request: HttpRequest, provider: str, resource_type: str, provision_id: int
) -> HttpResponse:
    """Step 4: the live status of one provision (the page, or for htmx its panel)."""
    actor = actor_of(request)
    op = operation_get(actor=actor, operation_id=provision_id)
    if op.resource_type != resource_type or (op.dock is not None and op.dock.provider != provider):
        raise NotFound("Operation not found.")
    _, rtype = _resource_type(provider, resource_type)
    context = {**status_context(actor, op, request.path), "rtype": rtype, "provider": provider}
    return page_or_partial(
        request, "frontend/provision/status.html", "frontend/operations/_status.html", context
    )


@dashboard_view
def operation_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    filters = filters_from(request, ("status", "kind", "dock", "stack"))
    page = paginate(request, operations_for(actor=actor, filters=filters))
    docks = Dock.objects.visible_to(actor, Area.PROVISIONING).order_by("name").only("pk", "name")
    return page_or_partial(
        request,
        "frontend/operations/list.html",
        "frontend/operations/_table.html",
        {
            "page": page,
            "form": OperationFilterForm(request.GET or None, docks=docks),
            "filtered": bool(filters),
        },
    )


@dashboard_view
def operation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    op = operation_get(actor=actor, operation_id=pk)
    return page_or_partial(
        request,
        "frontend/operations/detail.html",
        "frontend/operations/_status.html",
        status_context(actor, op, request.path),
    )


@dashboard_view
@require_POST
def operation_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask a queued or running operation to stop (it stops between steps)."""
    actor = actor_of(request)
    op = operation_get(actor=actor, operation_id=pk)
    try:
        op = operation_cancel(actor=actor, operation=op)
    except Conflict:
        op.refresh_from_db()  # it ended meanwhile: show how
    url = operation_url(op)
    if getattr(request, "htmx", False):
        return render(request, "frontend/operations/_status.html", status_context(actor, op, url))
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response
