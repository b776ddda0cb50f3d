"""What every dashboard view shares: the actor, error pages, partials, pagination.

Views parse input and call the same selectors and services as the API. The
services enforce permissions (through ``stackdock.permissions.require``); the
``may`` helper here only decides which actions to *offer*.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any
from urllib.parse import urlparse

from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers

from docks.models import UNIVERSAL_MODELS
from frontend.tenancy import request_actor
from stackdock.exceptions import ApplicationError, NotFound, PermissionDenied
from stackdock.models import Area, Level, Membership, Organization
from stackdock.permissions import Actor

PAGE_SIZE = 25
TABLE_NAMES = frozenset(UNIVERSAL_MODELS)
View = Callable[..., HttpResponseBase]


def actor_of(request: HttpRequest) -> Actor:
    """The actor of a request that went through ``dashboard_view``."""
    return request.actor  # type: ignore[attr-defined,no-any-return]


def org_of(actor: Actor) -> Organization:
    """The actor's organization (every dashboard actor has one)."""
    if actor.org is None:
        raise NotFound()
    return actor.org


def membership_of(actor: Actor) -> Membership:
    if actor.membership is None:
        raise NotFound()
    return actor.membership


def error_fields(form: Any) -> dict[str, list[str]]:
    """A Django form's errors as ``ValidationError.fields``."""
    return {name: [str(m) for m in messages] for name, messages in form.errors.items()}


def cached_actor(request: HttpRequest) -> Actor | None:
    """One Actor per request, so its grant cache is shared by every check."""
    if not hasattr(request, "actor"):
        request.actor = request_actor(request)  # type: ignore[attr-defined]
    return request.actor  # type: ignore[attr-defined,no-any-return]


#: the choke point's denial ("Your role does not allow full access to provisioning.")
DENIAL = re.compile(r"does not allow (?P<level>read|full) access to (?P<area>[a-z]+)")
#: areas a grant on one dock can also open (django-guardian), by the grant's label
GRANTS: dict[str, str] = {
    Area.PROVISIONING: "Provision on this dock",
    Area.DOCKS: "View this dock and its resources",
    Area.RESOURCES: "View this dock and its resources",
}


def denial_help(exc: ApplicationError, actor: Actor | None) -> dict[str, str] | None:
    """What a 403 lacked and who can give it, in words: 'This needs provisioning: full
    in your role (yours has provisioning: read), or the grant "Provision on this dock"
    on the dock it concerns.' and who can give either."""
    match = DENIAL.search(exc.message)
    if match is None:
        return None
    area, level = match.group("area"), match.group("level")
    have = actor.membership.role.level(area) if actor and actor.membership else Level.NONE
    grant = GRANTS.get(area)
    needs = f"This needs {area}: {level} in your role (yours has {area}: {have})"
    needs += f', or the grant "{grant}" on the dock it concerns.' if grant else "."
    who = "An owner or admin can change your role under Members & roles"
    who += ", or give the grant on the dock's page, under Grants." if grant else "."
    return {"needs": needs, "who": who}


#: a dashboard section (the first part of the path) -> its list page and name
SECTIONS = {
    "docks": ("frontend:docks", (), "All docks"),
    "stacks": ("frontend:stacks", (), "All stacks"),
    "operations": ("frontend:operations", (), "All operations"),
    "provision": ("frontend:provision", (), "Provision something else"),
    "audit": ("frontend:audit", (), "The audit log"),
    "settings": ("frontend:members", (), "Members & roles"),
}


def ways_out(request: HttpRequest) -> dict[str, str]:
    """Where an error page leads: the page the member came from (this site's only), the
    section the URL belongs to (a table's list for a resource)."""
    out: dict[str, str] = {}
    referer = request.META.get("HTTP_REFERER", "")
    parsed = urlparse(referer)
    if referer and parsed.netloc == request.get_host() and parsed.path != request.path:
        out["back_url"] = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    parts = request.path.removeprefix("/dashboard/").split("/")
    head = parts[0] if parts else ""
    if head in SECTIONS:
        name, args, label = SECTIONS[head]
        out.update(section_url=reverse(name, args=args), section_label=label)
    elif head in TABLE_NAMES and len(parts) > 2:
        out.update(
            section_url=reverse("frontend:resources", args=[head]),
            section_label=f"All {head.replace('-', ' ')}",
        )
    return out


def error_page(request: HttpRequest, exc: ApplicationError, status: int) -> HttpResponse:
    template = {403: "frontend/errors/403.html", 404: "frontend/errors/404.html"}.get(
        status, "frontend/errors/error.html"
    )
    context: dict[str, Any] = {"error": exc, "status": status, **ways_out(request)}
    if status == 403:
        context["denial"] = denial_help(exc, getattr(request, "actor", None))
    return render(request, template, context, status=status)


def dashboard_view(view: View) -> View:
    """Log-in required, an actor in the session's organization, domain errors as pages.

    NotFound -> the 404 page, PermissionDenied -> the 403 page (the service
    that raised it already audited the denial), any other ApplicationError
    a page with its status and message.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        actor = cached_actor(request)
        if actor is None:
            return render(request, "frontend/no_org.html", status=403)
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            return error_page(request, exc, 404)
        except PermissionDenied as exc:
            return error_page(request, exc, 403)
        except ApplicationError as exc:
            return error_page(request, exc, exc.status_code)

    return wrapper


def may(actor: Actor, area: str, level: str = Level.READ, *, dock_id: Any = None) -> bool:
    """Whether to offer an action: the role allows it, or a grant on ``dock_id`` does.

    Only for showing or hiding buttons; the service checks again.
    """
    if actor.allows(area, level):
        return True
    return dock_id is not None and dock_id in actor.granted_dock_ids(area, level)


def may_provision_somewhere(actor: Actor) -> bool:
    return actor.allows(Area.PROVISIONING, Level.FULL) or bool(
        actor.granted_dock_ids(Area.PROVISIONING, Level.FULL)
    )


def page_or_partial(
    request: HttpRequest,
    template: str,
    partial: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
) -> HttpResponse:
    """The whole page, or for an htmx request only its fragment."""
    htmx = getattr(request, "htmx", None)
    # a history restore (back button) wants the whole page, not the fragment
    fragment = htmx is not None and bool(htmx) and not htmx.history_restore_request
    response = render(request, partial if fragment else template, dict(context), status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


def paginate(request: HttpRequest, queryset: Any, per_page: int = PAGE_SIZE) -> Page:
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def redirect_to(name: str, *args: Any, status: int = 303) -> HttpResponse:
    """A redirect after a POST (303: the browser follows with a GET)."""
    response = HttpResponseRedirect(reverse(name, args=args))
    response.status_code = status
    return response


def new_idempotency_key() -> str:
    return f"dash-{uuid.uuid4().hex}"


def filters_from(request: HttpRequest, names: tuple[str, ...]) -> dict[str, str]:
    return {n: request.GET.get(n, "").strip() for n in names if request.GET.get(n, "").strip()}
