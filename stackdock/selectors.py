"""Reads on members, roles and tokens, for the API and the dashboard alike.

Membership, Role and ApiToken have no ``visible_to`` manager (they are the
tenancy itself), so these reads check the area with ``require`` and stay in
the actor's organization: another organization's id is a 404. Members and
roles need ``members: read``; tokens are your own, or with ``members: full``
every token of the organization. The writes (``stackdock.services``) check
their own, stronger permission.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count, Model, QuerySet

from stackdock.exceptions import NotFound
from stackdock.models import ApiToken, Area, Level, Membership, Role
from stackdock.permissions import Actor, require

M = TypeVar("M", bound=Model)


def _one(qs: QuerySet[M], pk: Any, what: str) -> M:
    """The row of ``qs`` with id ``pk`` (a URL or form value), else NotFound."""
    try:
        return qs.get(pk=int(pk))
    except (ObjectDoesNotExist, TypeError, ValueError):
        raise NotFound(f"{what} not found.") from None


def members_for(*, actor: Actor) -> QuerySet[Membership]:
    """The organization's members, by user name. Needs ``members: read``."""
    require(actor, actor.org, Area.MEMBERS, Level.READ)
    return (
        Membership.objects.filter(org=actor.org)
        .select_related("user", "role", "org")
        .order_by("user__username", "pk")
    )


def member_get(*, actor: Actor, member_id: Any) -> Membership:
    return _one(members_for(actor=actor), member_id, "Member")


def roles_for(*, actor: Actor) -> QuerySet[Role]:
    """The organization's roles with their ``member_count``, by name. Needs ``members: read``."""
    require(actor, actor.org, Area.MEMBERS, Level.READ)
    return (
        Role.objects.filter(org=actor.org)
        .annotate(member_count=Count("memberships"))
        .order_by("name", "pk")
    )


def role_get(*, actor: Actor, role_id: Any) -> Role:
    return _one(roles_for(actor=actor).select_related("org"), role_id, "Role")


def tokens_for(*, actor: Actor) -> QuerySet[ApiToken]:
    """Your own tokens, newest first; with ``members: full``, every token of the organization."""
    qs = ApiToken.objects.select_related("membership__user", "membership__org").order_by(
        "-created_at", "-pk"
    )
    if actor.membership is None:
        return qs.none()
    if actor.allows(Area.MEMBERS, Level.FULL):
        return qs.filter(membership__org=actor.org)
    return qs.filter(membership=actor.membership)


def token_get(*, actor: Actor, token_id: Any, whole_org: bool = False) -> ApiToken:
    """One token ``tokens_for`` lists, else a 404.

    The two interfaces answer differently for someone else's token that you
    may not see: the dashboard says 404 (it is not in your list), the API
    says 403 (the house rule: your own organization's object that your role
    cannot touch). So the API passes ``whole_org=True``: any token of your
    organization resolves and ``token_revoke`` decides. Another
    organization's token is a 404 either way.
    """
    qs = (
        ApiToken.objects.select_related("membership__user", "membership__org").filter(
            membership__org=actor.org
        )
        if whole_org
        else tokens_for(actor=actor)
    )
    return _one(qs, token_id, "Token")
