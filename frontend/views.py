"""Dashboard views. They call the same selectors and services as the API."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from docks.models import UNIVERSAL_MODELS, Dock
from frontend.forms import EmailLoginForm
from frontend.tenancy import SESSION_KEY, memberships, request_actor
from stackdock.models import Area


class LoginView(auth_views.LoginView):
    form_class = EmailLoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    actor = request_actor(request)
    if actor is None:
        return render(request, "frontend/no_org.html", status=403)
    docks = list(Dock.objects.visible_to(actor, Area.DOCKS).order_by("name"))
    counts = {
        table: model.objects.visible_to(actor, Area.RESOURCES).count()
        for table, model in UNIVERSAL_MODELS.items()
    }
    return render(
        request,
        "frontend/overview.html",
        {"docks": docks, "counts": counts, "can_see_docks": actor.allows(Area.DOCKS, "read")},
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
