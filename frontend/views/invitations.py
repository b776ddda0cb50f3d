"""The invitation page (``/accounts/invitation/<secret>/``), signed in or not.

- Not signed in: who invited you, to what, as which role; sign in as the invited
  address, or ask for a link to set its password (mailed to that address only; the
  answer is the same whether it had an account).
- Signed in as the invited address: accept, and this session moves to the new
  organization (the one you just chose); no other session of yours moves.
- Signed in as someone else: sign out first.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from frontend.tenancy import SESSION_KEY
from stackdock import invitations
from stackdock.exceptions import ApplicationError, NotFound


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, secret: str) -> HttpResponse:
    try:
        invite = invitations.invitation_by_secret(secret)
    except NotFound as exc:
        return _page(request, {"invalid": exc.message}, status=404)
    context = {"invitation": invite, "for_you": invitations.is_for(invite, request.user)}
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "accept":
        try:
            membership = invitations.invitation_accept(user=request.user, secret=secret)
        except ApplicationError as exc:
            return _page(request, {**context, "error": exc.message}, status=exc.status_code)
        request.session[SESSION_KEY] = membership.org_id
        return redirect("frontend:overview")
    if action == "send_link":
        path = request.path
        invitations.invitation_send_password_link(
            secret=secret,
            reset_link_for=lambda uid, token: request.build_absolute_uri(
                invitations.reset_path(uid, token)
            ),
            invitation_link=request.build_absolute_uri(path),
        )
        context["link_sent"] = True
    return _page(request, context)


def _page(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    response = render(request, "frontend/account/invitation.html", context, status=status)
    # the URL holds the secret: not cached; the site's Referrer-Policy (same-origin) keeps it
    # from other sites ("no-referrer" would make browsers post Origin: null, failing CSRF)
    response["Cache-Control"] = "no-store"
    return response
