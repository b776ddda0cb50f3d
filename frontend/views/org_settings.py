"""Organization settings: members and invitations, roles (the permission matrix), API tokens."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from frontend.forms import MemberAddForm, MemberRoleForm, RoleForm, TokenCreateForm
from frontend.views.base import (
    actor_of,
    dashboard_view,
    error_fields,
    may,
    membership_of,
    org_of,
    redirect_to,
)
from stackdock import invitations, selectors, services
from stackdock.exceptions import Conflict, ValidationError
from stackdock.models import AREAS, Area, Level, Role
from stackdock.permissions import Actor, rank_shortfall, require, require_rank, standing_of


def _roles(actor: Actor) -> QuerySet[Role]:
    """The organization's roles as the dashboard lists them: built-in ones first."""
    return selectors.roles_for(actor=actor).order_by("-builtin", "name")


def _form_errors(form: Any, exc: ValidationError | Conflict) -> None:
    for field, messages in (exc.fields or {"": [exc.message]}).items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


# --- members ------------------------------------------------------------------------------


def _members_page(
    request: HttpRequest,
    actor: Actor,
    add_form: MemberAddForm | None = None,
    status: int = 200,
    link: str | None = None,
) -> HttpResponse:
    members = list(selectors.members_for(actor=actor))
    roles = list(_roles(actor))
    can_manage = may(actor, Area.MEMBERS, Level.FULL)
    # what to offer (by role alone; the services check the member's grants too)
    givable = [r for r in roles if rank_shortfall(actor, standing_of(r)) is None]
    response = render(
        request,
        "frontend/settings/members.html",
        {
            "members": members,
            "roles": roles,
            "can_manage": can_manage,
            "givable": givable,
            "above_you": {m.pk for m in members if m.role not in givable},
            "add_form": add_form or (MemberAddForm(roles=givable) if can_manage else None),
            "invitations": list(invitations.invitations_for(actor=actor)),
            "link": link,
        },
        status=status,
    )
    response["Cache-Control"] = "no-store"  # a new invitation's link is shown once
    return response


@dashboard_view
def members(request: HttpRequest) -> HttpResponse:
    """Members, open invitations, and the invite form. Inviting answers with the link,
    shown this once (it is mailed to the address too)."""
    actor = actor_of(request)
    if request.method != "POST":
        return _members_page(request, actor)
    form = MemberAddForm(request.POST, roles=_roles(actor))
    if form.is_valid():
        try:
            _, link = invitations.invitation_create(
                actor=actor,
                org=org_of(actor),
                email=form.cleaned_data["email"],
                role_name=form.cleaned_data["role"],
                link_for=lambda secret: request.build_absolute_uri(
                    invitations.invitation_path(secret)
                ),
            )
        except (ValidationError, Conflict) as exc:
            _form_errors(form, exc)
        else:
            return _members_page(request, actor, link=link)
    return _members_page(request, actor, form, status=400)


@dashboard_view
@require_POST
def invitation_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    require(actor, actor.org, Area.MEMBERS, Level.READ)
    invitation = invitations.invitation_get_for(actor=actor, invitation_id=pk)
    invitations.invitation_revoke(actor=actor, invitation=invitation)
    return redirect_to("frontend:members")


@dashboard_view
@require_POST
def member_role(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    membership = selectors.member_get(actor=actor, member_id=pk)
    form = MemberRoleForm(request.POST, roles=_roles(actor))
    if not form.is_valid():
        raise ValidationError("Pick a role.", fields=error_fields(form))
    services.member_change_role(
        actor=actor, membership=membership, role_name=form.cleaned_data["role"]
    )
    return redirect_to("frontend:members")


@dashboard_view
def member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    membership = selectors.member_get(actor=actor, member_id=pk)
    if request.method == "POST":
        services.member_remove(actor=actor, membership=membership)
        return redirect_to("frontend:members")
    require(actor, actor.org, Area.MEMBERS, Level.FULL, obj=membership)
    require_rank(actor, membership)  # the same checks member_remove makes, before asking
    return render(
        request,
        "frontend/confirm.html",
        {
            "title": f"Remove {membership.user.username}?",
            "message": f"{membership.user.username} loses access to {membership.org.name} "
            "and their API tokens for it stop working.",
            "button": "Remove member",
            "back_url": reverse("frontend:members"),
            "danger": True,
        },
    )


# --- roles ------------------------------------------------------------------------------------


def _role_initial(role: Any) -> dict[str, str]:
    return {f"perm_{a}": role.level(a) for a in AREAS}


@dashboard_view
def roles(request: HttpRequest) -> HttpResponse:
    """The permission matrix: built-in roles read-only, custom roles editable, a new-role form."""
    actor = actor_of(request)
    require(actor, actor.org, Area.MEMBERS, Level.READ)
    can_manage = may(actor, Area.MEMBERS, Level.FULL)
    new_form = RoleForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if new_form.is_valid():
            try:
                services.role_create(
                    actor=actor,
                    org=org_of(actor),
                    name=new_form.cleaned_data["name"],
                    permissions=new_form.permissions(),
                )
            except (ValidationError, Conflict) as exc:
                _form_errors(new_form, exc)
            else:
                return redirect_to("frontend:roles")
        status = 400
    rows = []
    for role in _roles(actor):
        form = None
        if can_manage and not role.builtin:
            form = RoleForm(initial=_role_initial(role), with_name=False, prefix=f"role{role.pk}")
            for field in form.fields.values():  # the selects sit in the matrix, outside the form
                field.widget.attrs["form"] = f"role-form-{role.pk}"
        rows.append({"role": role, "levels": [role.level(a) for a in AREAS], "form": form})
    return render(
        request,
        "frontend/settings/roles.html",
        {
            "rows": rows,
            "areas": AREAS,
            "can_manage": can_manage,
            "new_form": new_form if can_manage else None,
        },
        status=status,
    )


@dashboard_view
@require_POST
def role_change(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    role = selectors.role_get(actor=actor, role_id=pk)
    if request.POST.get("action") == "delete":
        services.role_delete(actor=actor, role=role)
        return redirect_to("frontend:roles")
    form = RoleForm(request.POST, with_name=False, prefix=f"role{role.pk}")
    if not form.is_valid():
        raise ValidationError("Pick a level for every area.", fields=error_fields(form))
    services.role_change(actor=actor, role=role, permissions=form.permissions())
    return redirect_to("frontend:roles")


# --- API tokens ------------------------------------------------------------------------------


@dashboard_view
def tokens(request: HttpRequest) -> HttpResponse:
    """Your tokens (all of the organization's with members: full). A new secret is shown once:
    in the response to the POST that made it, never again."""
    actor = actor_of(request)
    form = TokenCreateForm(request.POST if request.method == "POST" else None)
    secret = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                _, secret = services.token_create(
                    actor=actor,
                    membership=membership_of(actor),
                    name=form.cleaned_data["name"],
                    expires_days=form.cleaned_data.get("expires_days"),
                )
            except ValidationError as exc:
                _form_errors(form, exc)
                status = 400
            else:
                form = TokenCreateForm()
        else:
            status = 400
    response = render(
        request,
        "frontend/settings/tokens.html",
        {
            "tokens": list(selectors.tokens_for(actor=actor)),
            "form": form,
            "secret": secret,
            "sees_all": may(actor, Area.MEMBERS, Level.FULL),
        },
        status=status,
    )
    response["Cache-Control"] = "no-store"
    return response


@dashboard_view
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    token = selectors.token_get(actor=actor, token_id=pk)
    try:
        services.token_revoke(actor=actor, token=token)
    except Conflict:
        pass  # already revoked: the list shows it
    return redirect_to("frontend:tokens")
