"""The universal tables: list (search, filters, pages), detail, update, destroy, and
import ("Manage with StackDock" on a discovered row)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from docks.adapters.base import CENSOR
from docks.models import TABLE_FIELDS, Dock, ProvisioningSource
from docks.selectors import RESOURCE_FILTERS, resource_get, resources_for
from frontend.forms import IMPORT_INTO_STACK, ImportForm, ResourceFilterForm
from frontend.schema_forms import SchemaForm
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
from provisioning.models import Stack, StackKind
from provisioning.registry import get_registry
from provisioning.selectors import operations_for
from provisioning.services import (
    request_fingerprint,
    resource_delete,
    resource_import,
    resource_update,
    stack_import,
)
from stackdock.exceptions import (
    ApplicationError,
    ConfirmationRequired,
    Conflict,
    PermissionDenied,
    ValidationError,
)
from stackdock.models import Area, Level
from stackdock.permissions import Actor, require

TITLES = {
    "servers": "Servers",
    "web-services": "Web services",
    "domains": "Domains",
    "databases": "Databases",
    "buckets": "Buckets",
}


@dashboard_view
def resource_list(request: HttpRequest, table: str) -> HttpResponse:
    actor = actor_of(request)
    filters = filters_from(request, RESOURCE_FILTERS)
    page = paginate(request, resources_for(actor=actor, table=table, filters=filters))
    docks = Dock.objects.visible_to(actor, Area.RESOURCES).order_by("name").only("pk", "name")
    form = ResourceFilterForm(
        request.GET or None, docks=docks, providers=get_registry().providers()
    )
    context = {
        "table": table,
        "title": TITLES[table],
        "filter_label": f"Filter {TITLES[table].lower()}",
        "columns": TABLE_FIELDS[table],
        "page": page,
        "form": form,
        "filtered": bool(filters),
        "can_provision": may_provision_somewhere(actor),
    }
    return page_or_partial(
        request, "frontend/resources/list.html", "frontend/resources/_table.html", context
    )


def _spec_model(row: Any) -> Any:
    registry = get_registry()
    try:
        return registry.resource_type(row.provider, row.resource_type)
    except Exception:  # unknown provider or type (e.g. discovered by sync): no form
        return None


def _masked_spec(row: Any, rtype: Any) -> dict[str, Any]:
    secret = rtype.secret_fields if rtype is not None else frozenset()
    return {k: (CENSOR if k in secret else v) for k, v in (row.spec or {}).items()}


def _discovered(row: Any) -> bool:
    return row.provisioning_source == ProvisioningSource.MANUAL or not row.provisioning_source


def _importable(actor: Actor, row: Any, rtype: Any) -> bool:
    """Whether to offer "Manage with StackDock" (the service decides again)."""
    return (
        _discovered(row)
        and rtype is not None
        and row.dock_id is not None
        and bool(row.provider_resource_id)
        and may(actor, Area.PROVISIONING, Level.FULL, dock_id=row.dock_id)
    )


def _changeable(actor: Actor, row: Any) -> tuple[bool, str]:
    """Whether to offer update/destroy here, and if not, why (shown to the user)."""
    if _discovered(row):
        return False, "Discovered by sync: StackDock does not manage it until it is imported."
    if row.provisioning_source == ProvisioningSource.SST:
        return False, f"Managed by stack {row.sst_stack_name!r}: change the stack's spec."
    if not may(actor, Area.PROVISIONING, Level.FULL, dock_id=row.dock_id):
        return False, ""
    if row.dock_id is None:
        return False, "Its dock was deleted."
    return True, ""


@dashboard_view
def resource_detail(request: HttpRequest, table: str, pk: int) -> HttpResponse:
    actor = actor_of(request)
    row = resource_get(actor=actor, table=table, resource_id=pk)
    rtype = _spec_model(row)
    changeable, reason = _changeable(actor, row)
    ops = operations_for(actor=actor).filter(resource_table=table, resource_id=row.pk)[:20]
    stack = None
    if row.provisioning_source == ProvisioningSource.SST and row.sst_stack_name:
        stack = (
            Stack.objects.visible_to(actor, Area.PROVISIONING)
            .filter(name=row.sst_stack_name, kind=StackKind.STACK)
            .first()
        )
        # a stack's resource is touched by the stack's operations
        ops = operations_for(actor=actor, filters={"stack": row.sst_stack_name})[:20]
    return render(
        request,
        "frontend/resources/detail.html",
        {
            "table": table,
            "title": TITLES[table],
            "row": row,
            "columns": [(c, getattr(row, c)) for c in TABLE_FIELDS[table]],
            "spec": _masked_spec(row, rtype),
            "operations": list(ops),
            "changeable": changeable and rtype is not None,
            "importable": _importable(actor, row, rtype),
            "not_changeable_reason": reason,
            "stack": stack,
        },
    )


def _update_form(rtype: Any, row: Any, data: Any = None) -> SchemaForm:
    initial = {k: v for k, v in (row.spec or {}).items() if k not in rtype.secret_fields}
    from django import forms

    key = forms.CharField(widget=forms.HiddenInput, initial=new_idempotency_key())
    form = SchemaForm(
        data,
        model=rtype.spec_model,
        initial=initial,
        prefix_fields={"idempotency_key": key},
        secret_fields=rtype.secret_fields,
    )
    for name in form.secret_names & set(form.fields):  # never shown: empty keeps it
        form.fields[name].required = False
        form.fields[name].help_text = f"{form.fields[name].help_text} Leave empty to keep it."
    return form


@dashboard_view
def resource_edit(request: HttpRequest, table: str, pk: int) -> HttpResponse:
    actor = actor_of(request)
    row = resource_get(actor=actor, table=table, resource_id=pk)
    require(actor, row.org, Area.PROVISIONING, Level.FULL, obj=row)
    rtype = _spec_model(row)
    if rtype is None:
        raise Conflict(f"{row.name!r} has no spec StackDock can change.")
    form = _update_form(rtype, row, request.POST if request.method == "POST" else None)
    status = 200
    review = None  # the plan of an update that replaces the resource, to confirm
    if request.method == "POST":
        if form.is_valid():
            changes = form.spec_values()
            key = form.cleaned_data["idempotency_key"]
            confirm = request.POST.get("confirm", "")
            try:
                op = resource_update(
                    actor=actor,
                    table=table,
                    row=row,
                    changes=changes,
                    confirm=confirm,
                    idempotency_key=key,
                    request_hash=request_fingerprint({"update": [table, row.pk, changes, confirm]}),
                )
            except ConfirmationRequired as exc:
                review = {"plan": exc.plan, "message": exc.message.split(" Send confirm")[0]}
            except (ValidationError, Conflict) as exc:
                form.add_server_errors(exc.fields or {"": [exc.message]}, prefix="spec.")
            else:
                return redirect_to("frontend:operation", op.pk)
        status = 200 if review else 400
    return render(
        request,
        "frontend/resources/edit.html",
        {
            "table": table,
            "title": TITLES[table],
            "row": row,
            "form": form,
            "replace_fields": sorted(rtype.replace_fields),
            "review": review,
            "plan": review["plan"] if review else None,
        },
        status=status,
    )


@dashboard_view
def resource_destroy(request: HttpRequest, table: str, pk: int) -> HttpResponse:
    """Confirmation page (GET); the delete operation (POST, with the name typed)."""
    actor = actor_of(request)
    row = resource_get(actor=actor, table=table, resource_id=pk)
    require(actor, row.org, Area.PROVISIONING, Level.FULL, obj=row)
    error = ""
    if request.method == "POST":
        if request.POST.get("confirm_name", "").strip() != row.name:
            error = "Type the resource's name exactly to confirm."
        else:
            try:
                op = resource_delete(actor=actor, table=table, row=row)
            except Conflict as exc:
                error = exc.message
            else:
                return redirect_to("frontend:operation", op.pk)
    return render(
        request,
        "frontend/resources/destroy.html",
        {"table": table, "title": TITLES[table], "row": row, "error": error},
        status=400 if error else 200,
    )


def _stacks_to_import_into(actor: Actor) -> list[str]:
    stacks = Stack.objects.visible_to(actor, Area.PROVISIONING).filter(kind=StackKind.STACK)
    return list(stacks.order_by("name").values_list("name", flat=True))


@dashboard_view
def resource_import_view(request: HttpRequest, table: str, pk: int) -> HttpResponse:
    """Confirmation page (GET: what importing means, alone or into a stack); the import
    itself (POST), which reads the resource and changes nothing at its provider."""
    actor = actor_of(request)
    row = resource_get(actor=actor, table=table, resource_id=pk)
    require(actor, row.org, Area.PROVISIONING, Level.FULL, obj=row)
    stacks = _stacks_to_import_into(actor)
    form = ImportForm(request.POST if request.method == "POST" else None, stacks=stacks)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                return _import(actor, table, row, form.cleaned_data)
            except (ValidationError, Conflict, PermissionDenied) as exc:
                _form_errors(form, exc)
            except ApplicationError as exc:  # the provider could not be read
                form.add_error(None, exc.message)
    return render(
        request,
        "frontend/resources/import.html",
        {
            "table": table,
            "title": TITLES[table],
            "row": row,
            "form": form,
            "has_stacks": bool(stacks),
            "discovered": _discovered(row),
        },
        status=status,
    )


def _import(actor: Actor, table: str, row: Any, data: dict[str, Any]) -> HttpResponse:
    if data["mode"] == IMPORT_INTO_STACK:
        stack = (
            Stack.objects.visible_to(actor, Area.PROVISIONING)
            .filter(name=data["stack"], kind=StackKind.STACK)
            .first()
        )
        if stack is None:
            raise ValidationError("Choose a stack.", fields={"stack": ["no such stack"]})
        stack_import(actor=actor, stack=stack, table=table, row=row, resource=data["resource"])
        return redirect_to("frontend:stack", stack.name)
    resource_import(actor=actor, table=table, row=row)
    return redirect_to("frontend:resource", table, row.pk)


def _form_errors(form: ImportForm, exc: ApplicationError) -> None:
    """A field's error beside the field; anything else above the form."""
    placed = False
    for name, messages in (exc.fields or {}).items():
        if name in ("stack", "resource"):
            for message in messages:
                form.add_error(name, message)
            placed = True
    if not placed:
        form.add_error(None, exc.message)
