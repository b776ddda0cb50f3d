"""Who is acting, in which organization, for an API request.

- An API token: its membership decides the organization (``X-StackDock-Org``,
  if sent, must name that same organization).
- The dashboard's session: the membership named by ``X-StackDock-Org: <slug>``,
  else the organization the session chose in the dashboard, else the organization
  the user joined first (so joining another never moves a session).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request

from stackdock.exceptions import NotFound, PermissionDenied, ValidationError
from stackdock.models import ApiToken, Membership
from stackdock.permissions import Actor

ORG_HEADER = "X-StackDock-Org"
SESSION_KEY = "stackdock_org_id"  # the dashboard's choice (frontend.tenancy.SESSION_KEY)


def _wanted_org(request: Request) -> str:
    return request.headers.get(ORG_HEADER, "").strip().lower()


def _token_actor(token: ApiToken, wanted: str) -> Actor:
    membership = token.membership
    if wanted and wanted != membership.org.slug:
        raise ValidationError(
            f"This token belongs to organization {membership.org.slug!r}; "
            f"drop the {ORG_HEADER} header or send that slug.",
            fields={ORG_HEADER: ["does not match the token's organization"]},
        )
    return Actor.for_membership(membership, token=token)


def _session_actor(request: Request, wanted: str) -> Actor:
    user: Any = request.user
    memberships = list(
        Membership.objects.select_related("org", "role", "user")
        .filter(user=user)
        .order_by("org__slug")
    )
    if not memberships:
        raise PermissionDenied("You are not a member of any organization.")
    if not wanted:  # the dashboard session's choice, else the first joined (frontend.tenancy)
        chosen = request.session.get(SESSION_KEY)
        for membership in memberships:
            if membership.org_id == chosen:
                return Actor.for_membership(membership)
        return Actor.for_membership(min(memberships, key=lambda m: (m.created_at, m.pk)))
    for membership in memberships:
        if membership.org.slug == wanted:
            return Actor.for_membership(membership)
    raise NotFound(
        f"No organization {wanted!r} among yours.",
        fields={ORG_HEADER: ["not one of your organizations"]},
    )


def request_actor(request: Request) -> Actor:
    """The request's Actor (computed once per request). The caller checked authentication."""
    actor = getattr(request, "_stackdock_actor", None)
    if actor is None:
        wanted = _wanted_org(request)
        if isinstance(request.auth, ApiToken):
            actor = _token_actor(request.auth, wanted)
        else:
            actor = _session_actor(request, wanted)
        request._stackdock_actor = actor  # type: ignore[attr-defined]
    return actor
