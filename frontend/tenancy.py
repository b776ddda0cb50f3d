"""Which organization a dashboard request acts in (kept in the session)."""

from __future__ import annotations

from django.http import HttpRequest

from stackdock.models import Membership
from stackdock.permissions import Actor

SESSION_KEY = "stackdock_org_id"


def memberships(request: HttpRequest) -> list[Membership]:
    if not request.user.is_authenticated:
        return []
    cached = getattr(request, "_stackdock_memberships", None)
    if cached is None:
        cached = list(
            Membership.objects.select_related("org", "role", "user")
            .filter(user=request.user)
            .order_by("org__slug")
        )
        request._stackdock_memberships = cached  # type: ignore[attr-defined]
    return cached


def current_membership(request: HttpRequest) -> Membership | None:
    """The organization this session last chose, else the one the user joined first -
    so joining another organization never moves a session."""
    ms = memberships(request)
    wanted = request.session.get(SESSION_KEY)
    for m in ms:
        if m.org_id == wanted:
            return m
    return first_joined(ms)


def first_joined(ms: list[Membership]) -> Membership | None:
    return min(ms, key=lambda m: (m.created_at, m.pk)) if ms else None


def request_actor(request: HttpRequest) -> Actor | None:
    membership = current_membership(request)
    return Actor.for_membership(membership) if membership is not None else None
