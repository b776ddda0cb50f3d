"""Stacks: list, YAML editor, plan, deploy / destroy / refresh, versions, lock, unlock."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import pluralize
from django.urls import reverse

from docks.models import UNIVERSAL_MODELS, ProvisioningSource
from docks.selectors import provisionable_docks_for
from frontend.forms import ConfirmNameForm, StackForm
from frontend.views.base import (
    actor_of,
    dashboard_view,
    may,
    may_provision_somewhere,
    new_idempotency_key,
    org_of,
    redirect_to,
)
from provisioning import plans as saved_plans
from provisioning.models import FailurePolicy, Stack, StackLock, StackResource
from provisioning.selectors import operations_for, stack_get, stacks_with_state
from provisioning.services import (
    request_fingerprint,
    stack_delete,
    stack_deploy,
    stack_destroy,
    stack_plan,
    stack_refresh,
    stack_save,
    stack_unlock,
)
from stackdock.exceptions import ApplicationError, Conflict, NotFound, ValidationError
from stackdock.models import Area, Level
from stackdock.permissions import Actor, require

LINE = re.compile(r"\s*\(line (\d+)\)")
AT_LINE = re.compile(r"at line (\d+)")
#: the editor's example for a new stack, by the provider of the dock it names: resources
#: that provider offers, the second referring to the first
EXAMPLES = {
    "sandbox": """resources:
  db:
    dock: {dock}
    type: database
    properties:
      name: app-db
  web:
    dock: {dock}
    type: web-service
    properties:
      name: ${{db.name}}-web
      size: small
""",
    "aws": """resources:
  assets:
    dock: {dock}
    type: s3-bucket
    properties:
      name: {name}-assets-change-me  # bucket names are global: pick your own
      versioning: true
  logs:
    dock: {dock}
    type: s3-bucket
    properties:
      name: ${{assets.name}}-logs
""",
    "cloudflare": """resources:
  db:
    dock: {dock}
    type: d1-database
    properties:
      name: {name}-db
  files:
    dock: {dock}
    type: r2-bucket
    properties:
      name: ${{db.name}}-files
""",
}
PLAIN_YAML = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ()._-]*[A-Za-z0-9)._-]|[A-Za-z0-9]")


def _yaml_scalar(text: str) -> str:
    """``text`` as a YAML scalar: as written when that is safe, else quoted (JSON is YAML)."""
    return text if PLAIN_YAML.fullmatch(text) else json.dumps(text)


def _example(actor: Actor) -> tuple[str, bool]:
    """A new stack's example, naming a dock the member may deploy on, and whether one exists.

    It saves and plans as it is (``make run`` seeds a dock called "Sandbox", not
    "sandbox"); the stack name is one the organization does not use yet.
    """
    docks = list(provisionable_docks_for(actor=actor).order_by("name"))
    taken = set(Stack.objects.visible_to(actor, Area.PROVISIONING).values_list("name", flat=True))
    name = next(
        n for n in ("my-stack", *(f"my-stack-{i}" for i in range(2, 1000))) if n not in taken
    )
    order = list(EXAMPLES)
    docks.sort(key=lambda d: order.index(d.provider) if d.provider in order else len(order))
    dock = next((d for d in docks if d.provider in EXAMPLES), None)
    provider = dock.provider if dock is not None else "sandbox"
    body = EXAMPLES[provider].format(dock=_yaml_scalar(dock.name if dock else "my-dock"), name=name)
    return f"name: {name}\n{body}", dock is not None


def _can_apply(actor: Actor) -> bool:
    return may_provision_somewhere(actor)


def _can_unlock(actor: Actor) -> bool:
    return may(actor, Area.SETTINGS, Level.FULL) and may(actor, Area.PROVISIONING, Level.FULL)


@dashboard_view
def stack_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    require(actor, actor.org, Area.PROVISIONING, Level.READ)
    stacks = list(stacks_with_state(actor=actor))
    return render(
        request,
        "frontend/stacks/list.html",
        {"stacks": stacks, "can_apply": _can_apply(actor)},
    )


def _spec_errors(exc: ValidationError, text: str = "") -> list[dict[str, Any]]:
    """The service's errors as {path, message, line}, sorted by line (errors with no line
    first: they are about the whole document).

    The line comes from "(line N)" or "at line N" in the message (and is then taken
    out of it: the editor shows it once, as a link), else from where the path's last
    resource is written in ``text`` (cycles name no line). A tab in the indentation is
    said in words, not as YAML's "found character that cannot start any token".
    """
    lines = text.splitlines()
    out = []
    for path, messages in (exc.fields or {"": [exc.message]}).items():
        for message in messages:
            match = LINE.search(message) or AT_LINE.search(message)
            line = int(match.group(1)) if match else _line_of(lines, path)
            message = LINE.sub("", message).strip()
            if "cannot start any token" in message and line and "\t" in _at(lines, line):
                message = "tabs are not allowed in YAML indentation: indent with spaces"
            out.append({"path": path, "message": message, "line": line})
    return sorted(out, key=lambda e: (e["line"] or 0, e["path"]))


def _at(lines: list[str], number: int) -> str:
    return lines[number - 1] if 0 < number <= len(lines) else ""


def _line_of(lines: list[str], path: str) -> int | None:
    """The line where ``spec.resources.NAME...`` names its resource, if written plainly."""
    parts = path.removeprefix("spec.").split(".")
    if len(parts) < 2 or parts[0] != "resources":
        return None
    key = re.compile(rf"^\s+{re.escape(parts[1])}\s*:")
    for number, line in enumerate(lines, start=1):
        if key.match(line):
            return number
    return None


def _numbered(text: str, bad: set[int]) -> list[dict[str, Any]]:
    return [
        {"number": n, "text": line, "bad": n in bad}
        for n, line in enumerate(text.splitlines(), start=1)
    ]


def _editor(request: HttpRequest, stack: Stack | None) -> HttpResponse:
    actor = actor_of(request)
    if not _can_apply(actor):
        require(actor, actor.org, Area.PROVISIONING, Level.FULL)
    has_dock = True
    if stack is not None:
        initial = {"spec": stack.spec_text, "on_failure": stack.on_failure}
    else:
        example, has_dock = _example(actor)
        initial = {"spec": example, "on_failure": FailurePolicy.STOP}
    form = StackForm(request.POST if request.method == "POST" else None, initial=initial)
    errors: list[dict[str, Any]] = []
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                if stack is not None and request.POST.get("action") == "plan":
                    # plan the draft without saving it: deploying the plan makes it the spec
                    planned = stack_plan(actor=actor, stack=stack, doc=form.cleaned_data["spec"])
                    return _redirect_to_plan(stack.name, planned["id"])
                saved = stack_save(
                    actor=actor,
                    org=org_of(actor),
                    doc=form.cleaned_data["spec"],
                    name=stack.name if stack is not None else None,
                    on_failure=form.cleaned_data["on_failure"],
                )
            except (ValidationError, Conflict) as exc:
                errors = _spec_errors(exc, form.cleaned_data["spec"])  # type: ignore[arg-type]
            else:
                return redirect_to("frontend:stack-plan", saved.name)
        status = 400
    text = form.data.get("spec", "") if form.is_bound else form.initial.get("spec", "")
    last = max(len(text.splitlines()), 1)
    bad = {min(e["line"], last) for e in errors if e["line"]}  # "at the end" marks the last line
    return render(
        request,
        "frontend/stacks/edit.html",
        {
            "stack": stack,
            "form": form,
            "errors": errors,
            "numbered": _numbered(text, bad) if errors else [],
            "has_dock": has_dock,
            "can_connect": may(actor, Area.DOCKS, Level.FULL)
            and may(actor, Area.CREDENTIALS, Level.FULL),
        },
        status=status,
    )


@dashboard_view
def stack_new(request: HttpRequest) -> HttpResponse:
    return _editor(request, None)


@dashboard_view
def stack_edit(request: HttpRequest, name: str) -> HttpResponse:
    stack = stack_get(actor=actor_of(request), name=name)
    return _editor(request, stack)


@dashboard_view
def stack_detail(request: HttpRequest, name: str) -> HttpResponse:
    actor = actor_of(request)
    stack = stack_get(actor=actor, name=name)
    lock = StackLock.objects.filter(stack=stack).first()
    resources = list(StackResource.objects.filter(stack=stack).order_by("name"))
    return render(
        request,
        "frontend/stacks/detail.html",
        {
            "stack": stack,
            "resources": resources,
            **_rows_of(actor, stack, {r.name for r in resources}),
            "versions": list(stack.versions.order_by("-number")[:10]),
            "lock": lock,
            "operations": list(operations_for(actor=actor, filters={"stack": stack.name})[:10]),
            "can_apply": _can_apply(actor),
            "can_unlock": _can_unlock(actor),
            "numbered": _numbered(stack.spec_text, set()),
        },
    )


def _rows_of(actor: Actor, stack: Stack, in_state: set[str]) -> dict[str, Any]:
    """The universal rows this stack manages that need a look: drifted ones, and ones
    its state no longer has (dropped from the stack; still at the provider)."""
    drifted, strays = [], []
    for table, model in UNIVERSAL_MODELS.items():
        rows = model.objects.visible_to(actor, Area.RESOURCES).filter(
            provisioning_source=ProvisioningSource.SST, sst_stack_name=stack.name
        )
        for row in rows:
            if row.drift:
                drifted.append((table, row))
            if row.sst_resource_id and row.sst_resource_id not in in_state:
                strays.append((table, row))
    return {"drifted": drifted, "strays": strays}


def _redirect_to_plan(name: str, plan_id: int) -> HttpResponse:
    response = redirect_to("frontend:stack-plan", name)
    response["Location"] += f"?plan={plan_id}"
    return response


def _plan(
    actor: Actor, stack: Stack, plan_id: str | None
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The saved plan ``plan_id`` (not yet deployed), else a new plan of the stored spec."""
    if plan_id:
        try:
            saved = saved_plans.get(stack, plan_id)
        except (NotFound, ValidationError):
            saved = None
        if saved is not None and saved.operation_id is None:
            return saved_plans.as_dict(saved), []
    try:
        return stack_plan(actor=actor, stack=stack), []
    except ValidationError as exc:
        return None, _spec_errors(exc, stack.spec_text)


def _has_changes(plan: dict[str, Any] | None) -> bool:
    """Whether a deploy of this plan would change anything at a provider."""
    summary = (plan or {}).get("summary") or {}
    return any(summary.get(k) for k in ("create", "update", "replace", "delete"))


def _stack_crumbs(stack: Stack) -> list[tuple[str, str]]:
    return [
        (reverse("frontend:stacks"), "Stacks"),
        (reverse("frontend:stack", args=[stack.name]), stack.name),
    ]


def _plan_page(
    request: HttpRequest, stack: Stack, *, action_error: str = "", status: int = 200
) -> HttpResponse:
    actor = actor_of(request)
    plan, errors = _plan(actor, stack, None if action_error else request.GET.get("plan"))
    return render(
        request,
        "frontend/stacks/plan.html",
        {
            "stack": stack,
            "plan": plan,
            "plan_has_changes": _has_changes(plan),
            "errors": errors,
            "action_error": action_error,
            "can_apply": _can_apply(actor),
            "idempotency_key": new_idempotency_key(),
        },
        status=status,
    )


@dashboard_view
def stack_plan_view(request: HttpRequest, name: str) -> HttpResponse:
    """The read-only preview: what a deploy would create, update, replace or delete."""
    return _plan_page(request, stack_get(actor=actor_of(request), name=name))


@dashboard_view
def stack_deploy_view(request: HttpRequest, name: str) -> HttpResponse:
    """GET: the plan with a confirm button; POST: queue the deploy, go to its live status."""
    actor = actor_of(request)
    stack = stack_get(actor=actor, name=name)
    if request.method != "POST":
        return _plan_page(request, stack)
    try:
        plan_id = request.POST.get("plan") or None
        op = stack_deploy(
            actor=actor,
            stack=stack,
            plan=plan_id,
            idempotency_key=request.POST.get("idempotency_key", "")[:200],
            request_hash=request_fingerprint({"deploy": stack.name, "plan": plan_id}),
        )
    except (Conflict, ValidationError, NotFound) as exc:
        return _plan_page(request, stack, action_error=exc.message, status=exc.status_code)
    return redirect_to("frontend:operation", op.pk)


def _confirm_by_name(
    request: HttpRequest,
    stack: Stack,
    *,
    act: Callable[[], HttpResponse],
    errors: tuple[type[ApplicationError], ...],
    title: str,
    message: str,
    button: str,
    items: list[str] | None = None,
) -> HttpResponse:
    """A page that asks for the stack's name (GET); on a POST with the right name, ``act()``
    and its response, or the page again with the message of one of ``errors`` it raised.
    ``items`` lists what the act reaches."""
    form = ConfirmNameForm(request.POST if request.method == "POST" else None)
    error = ""
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["confirm_name"].strip() != stack.name:
            form.add_error("confirm_name", "That is not this stack's name.")
        else:
            try:
                return act()
            except errors as exc:
                error = exc.message
    return render(
        request,
        "frontend/confirm.html",
        {
            "title": title,
            "message": message,
            "button": button,
            "form": form,
            "error": error,
            "confirm_name": stack.name,
            "back_url": reverse("frontend:stack", args=[stack.name]),
            "danger": True,
            "crumbs": _stack_crumbs(stack),
            "crumb_here": button,
            "items": items or [],
        },
        status=400 if request.method == "POST" else 200,
    )


@dashboard_view
def stack_destroy_view(request: HttpRequest, name: str) -> HttpResponse:
    actor = actor_of(request)
    stack = stack_get(actor=actor, name=name)
    if not _can_apply(actor):
        require(actor, stack.org, Area.PROVISIONING, Level.FULL, obj=stack)
    records = list(StackResource.objects.filter(stack=stack).order_by("name"))
    count = len(records)
    items = [
        f"{r.name} ({r.type}{f', {r.provider_resource_id}' if r.provider_resource_id else ''})"
        + (" - kept at the provider (retain)" if r.deletion_policy == "retain" else "")
        for r in records
    ]

    def destroy() -> HttpResponse:
        op = stack_destroy(actor=actor, stack=stack)
        return redirect_to("frontend:operation", op.pk)

    return _confirm_by_name(
        request,
        stack,
        act=destroy,
        errors=(Conflict, ValidationError),
        title=f"Destroy stack {stack.name}?",
        message=f"This deletes the {count} resource{pluralize(count)} the stack manages at "
        "their providers "
        "(resources with deletion_policy: retain are kept, untracked).",
        button="Destroy",
        items=items,
    )


@dashboard_view
def stack_delete_view(request: HttpRequest, name: str) -> HttpResponse:
    actor = actor_of(request)
    stack = stack_get(actor=actor, name=name)
    require(actor, stack.org, Area.PROVISIONING, Level.FULL, obj=stack)

    def delete() -> HttpResponse:
        stack_delete(actor=actor, stack=stack)
        return redirect_to("frontend:stacks")

    return _confirm_by_name(
        request,
        stack,
        act=delete,
        errors=(Conflict,),
        title=f"Delete stack {stack.name}?",
        message="This removes the stack's spec and history from StackDock. "
        "A stack that still manages resources must be destroyed first.",
        button="Delete stack",
    )


@dashboard_view
def stack_refresh_view(request: HttpRequest, name: str) -> HttpResponse:
    actor = actor_of(request)
    stack = stack_get(actor=actor, name=name)
    if request.method != "POST":
        return redirect_to("frontend:stack", stack.name, status=302)
    op = stack_refresh(actor=actor, stack=stack)
    return redirect_to("frontend:operation", op.pk)


@dashboard_view
def stack_unlock_view(request: HttpRequest, name: str) -> HttpResponse:
    actor = actor_of(request)
    stack = stack_get(actor=actor, name=name)
    require(actor, stack.org, Area.SETTINGS, Level.FULL, obj=stack)
    if request.method == "POST":
        stack_unlock(actor=actor, stack=stack)
        return redirect_to("frontend:stack", stack.name)
    lock = StackLock.objects.filter(stack=stack).first()
    holder = (
        f"operation {lock.holder} since {lock.since:%Y-%m-%d %H:%M:%S} UTC" if lock else "nobody"
    )
    return render(
        request,
        "frontend/confirm.html",
        {
            "title": f"Force-unlock stack {stack.name}?",
            "message": f"The lock is held by {holder}. Unlock only if that operation is "
            "really gone: two applies at once can leave the state inconsistent.",
            "button": "Unlock",
            "back_url": reverse("frontend:stack", args=[stack.name]),
            "danger": True,
            "crumbs": _stack_crumbs(stack),
            "crumb_here": "Unlock",
        },
    )
