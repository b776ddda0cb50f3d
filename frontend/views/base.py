"""What every dashboard view shares: the actor, error pages, partials, pagination.

Views parse input and call the same selectors and services as the API. The
services enforce permissions (through ``stackdock.permissions.require``); the
``may`` helper here only decides which actions to *offer*.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers

from frontend.tenancy import request_actor
from stackdock.exceptions import ApplicationError, NotFound, PermissionDenied
from stackdock.models import Area, Level, Membership, Organization
from stackdock.permissions import Actor

PAGE_SIZE = 25
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


def error_page(request: HttpRequest, exc: ApplicationError, status: int) -> HttpResponse:
    template = {403: "frontend/errors/403.html", 404: "frontend/errors/404.html"}.get(
        status, "frontend/errors/error.html"
    )
    return render(request, template, {"error": exc, "status": status}, status=status)


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
