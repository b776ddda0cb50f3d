"""Reads on members, roles and tokens for the API.

Membership, Role and ApiToken have no ``visible_to`` manager (they are the
tenancy itself), so these reads check the area with ``require`` and stay in
the actor's organization. Lookups by id for writes only resolve the object in
the actor's organization; the service decides whether the actor may act on it
(403) - another organization's id is a 404.
"""

from __future__ import annotations

from django.db.models import Count, QuerySet

from stackdock.exceptions import NotFound
from stackdock.models import ApiToken, Area, Level, Membership, Role
from stackdock.permissions import Actor, require


def members_for(*, actor: Actor) -> QuerySet[Membership]:
    require(actor, actor.org, Area.MEMBERS, Level.READ)
    return (
        Membership.objects.filter(org=actor.org)
        .select_related("user", "role", "org")
        .order_by("user__username", "pk")
    )


def member_get(*, actor: Actor, member_id: int) -> Membership:
    membership = (
        Membership.objects.select_related("user", "role", "org")
        .filter(org=actor.org, pk=member_id)
        .first()
    )
    if membership is None:
        raise NotFound("Member not found.")
    return membership


def roles_for(*, actor: Actor) -> QuerySet[Role]:
    require(actor, actor.org, Area.MEMBERS, Level.READ)
    return (
        Role.objects.filter(org=actor.org)
        .annotate(member_count=Count("memberships"))
        .order_by("name", "pk")
    )


def role_get(*, actor: Actor, role_id: int) -> Role:
    role = (
        Role.objects.select_related("org")
        .annotate(member_count=Count("memberships"))
        .filter(org=actor.org, pk=role_id)
        .first()
    )
    if role is None:
        raise NotFound("Role not found.")
    return role


def tokens_for(*, actor: Actor) -> QuerySet[ApiToken]:
    """Every token of the organization with ``members: read``; else your own."""
    qs = ApiToken.objects.select_related("membership__user").order_by("-created_at", "-pk")
    if actor.allows(Area.MEMBERS, Level.READ):
        return qs.filter(membership__org=actor.org)
    return qs.filter(membership=actor.membership)


def token_get(*, actor: Actor, token_id: int) -> ApiToken:
    token = (
        ApiToken.objects.select_related("membership__user", "membership__org")
        .filter(membership__org=actor.org, pk=token_id)
        .first()
    )
    if token is None:
        raise NotFound("Token not found.")
    return token
