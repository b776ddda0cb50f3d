"""Log in, the overview, the organization switcher."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from docks.selectors import docks_for
from frontend import selectors
from frontend.forms import EmailLoginForm
from frontend.tenancy import SESSION_KEY, memberships
from frontend.views.base import actor_of, dashboard_view, may, page_or_partial
from stackdock.models import Area, Level


class LoginView(auth_views.LoginView):
    form_class = EmailLoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@dashboard_view
def overview(request: HttpRequest) -> HttpResponse:
    """Docks and their sync state, counts per table, running and recent operations, drift.

    The operations panel refreshes itself (htmx) while something runs.
    """
    actor = actor_of(request)
    can_see_docks = may(actor, Area.DOCKS, Level.READ) or bool(
        actor.granted_dock_ids(Area.DOCKS, Level.READ)
    )
    active, recent = selectors.active_and_recent_operations(actor=actor)
    context = {
        "docks": list(docks_for(actor=actor).order_by("name")) if can_see_docks else [],
        "can_see_docks": can_see_docks,
        "can_add_dock": may(actor, Area.DOCKS, Level.FULL)
        and may(actor, Area.CREDENTIALS, Level.FULL),
        "counts": selectors.resource_counts(actor=actor),
        "active_ops": active,
        "recent_ops": recent,
        "drifted": selectors.drifted_resources(actor=actor),
    }
    return page_or_partial(
        request, "frontend/overview.html", "frontend/partials/overview_operations.html", context
    )


@login_required
@require_POST
def switch_org(request: HttpRequest) -> HttpResponse:
    wanted = request.POST.get("org")
    for m in memberships(request):
        if str(m.org_id) == wanted:
            request.session[SESSION_KEY] = m.org_id
            break
    return redirect("frontend:overview")
