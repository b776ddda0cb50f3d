"""The one permission choke point.

Every tenant-owned queryset goes through ``Model.objects.visible_to(actor,
area, level)`` (NetBox's ``restrict()``), and every write goes through
``require(actor, org, area, level, obj=None)``. Nothing filters by org by hand.

- Another organization's object is ``NotFound`` (never reveal it exists).
- Your organization's object that your role cannot touch is
  ``PermissionDenied``, and the denial is audited.
- django-guardian object grants on a Dock widen a member's reach for that one
  dock: ``view_dock`` gives read on the dock and its resources and operations;
  ``provision_dock`` also gives ``provisioning: full`` there.
- An API token may be narrowed (``ApiToken.scope``): every level it acts with,
  role-wide or through a grant, is capped by its scope.
- Acting on a member, role, token or grant also goes through
  ``require_rank(actor, target, new=...)``: nobody acts beyond their own rank.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import models

from stackdock.exceptions import NotFound, PermissionDenied
from stackdock.models import (
    AREAS,
    LEVEL_RANK,
    ApiToken,
    Area,
    Level,
    Membership,
    Organization,
    Role,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

#: areas a dock grant can widen, and the highest level each grant gives there
GRANT_LEVELS: dict[str, dict[str, str]] = {
    "view_dock": {
        Area.DOCKS: Level.READ,
        Area.RESOURCES: Level.READ,
        Area.PROVISIONING: Level.READ,
    },
    "provision_dock": {
        Area.DOCKS: Level.READ,
        Area.RESOURCES: Level.READ,
        Area.PROVISIONING: Level.FULL,
    },
}


def lower(a: str, b: str) -> str:
    """The lower of two levels."""
    return a if LEVEL_RANK[Level(a)] <= LEVEL_RANK[Level(b)] else b


def meet(a: Mapping[str, str], b: Mapping[str, str]) -> dict[str, str]:
    """Per area, the lower of two permission maps (a missing area is ``none``)."""
    return {area: lower(a.get(area, Level.NONE), b.get(area, Level.NONE)) for area in AREAS}


def covers(upper: Mapping[str, str], lower_map: Mapping[str, str]) -> bool:
    """True when ``upper`` holds, in every area, at least ``lower_map``'s level."""
    return all(
        LEVEL_RANK[Level(lower_map.get(area, Level.NONE))]
        <= LEVEL_RANK[Level(upper.get(area, Level.NONE))]
        for area in AREAS
    )


@dataclass(frozen=True, eq=False)
class Actor:
    """Who is acting, in which organization: a member (by session or API token) or the system."""

    user: User | None
    membership: Membership | None
    token: ApiToken | None = None
    system_name: str | None = None
    system_org: Organization | None = None
    _grant_cache: dict[str, set[Any]] = field(default_factory=dict, repr=False)

    @classmethod
    def for_membership(cls, membership: Membership, token: ApiToken | None = None) -> Actor:
        return cls(user=membership.user, membership=membership, token=token)

    @classmethod
    def for_user(cls, user: User, org: Organization) -> Actor:
        membership = (
            Membership.objects.select_related("role", "org", "user")
            .filter(user=user, org=org)
            .first()
        )
        return cls(user=user, membership=membership)

    @classmethod
    def system(cls, name: str = "system", org: Organization | None = None) -> Actor:
        return cls(user=None, membership=None, system_name=name, system_org=org)

    @property
    def is_system(self) -> bool:
        return self.system_name is not None

    @property
    def org(self) -> Organization | None:
        if self.membership is not None:
            return self.membership.org
        return self.system_org

    def __str__(self) -> str:
        if self.is_system:
            return f"system:{self.system_name}"
        name = self.user.get_username() if self.user is not None else "anonymous"
        if self.token is not None:
            return f"{name} (token {self.token.prefix})"
        return name

    def level(self, area: str) -> str:
        """The level this actor acts with in ``area``: its role's, capped by its token."""
        if self.is_system:
            return Level.FULL
        if self.membership is None:
            return Level.NONE
        return lower(self.membership.role.level(area), self._cap(area))

    def allows(self, area: str, level: str) -> bool:
        return LEVEL_RANK[Level(self.level(area))] >= LEVEL_RANK[Level(level)]

    @property
    def permissions(self) -> dict[str, str]:
        """The effective level in every area (what ``whoami`` shows)."""
        return {area: self.level(area) for area in AREAS}

    @property
    def is_owner(self) -> bool:
        """The system, or an owner acting in person or with an unnarrowed token."""
        if self.is_system:
            return True
        if self.membership is None or not self.membership.role.is_owner:
            return False
        return self.token is None or self.token.scope is None

    def _cap(self, area: str) -> str:
        return Level.FULL if self.token is None else self.token.cap(area)

    # --- object grants ------------------------------------------------------------
    def _granted(self, perm: str) -> set[Any]:
        if perm not in self._grant_cache:
            from guardian.shortcuts import get_objects_for_user

            from docks.models import Dock

            if self.user is None or self.membership is None:
                ids: set[Any] = set()
            else:
                ids = set(
                    get_objects_for_user(
                        self.user, f"docks.{perm}", klass=Dock, accept_global_perms=False
                    )
                    .filter(org_id=self.membership.org_id)
                    .values_list("pk", flat=True)
                )
            self._grant_cache[perm] = ids
        return self._grant_cache[perm]

    def granted_dock_ids(self, area: str, level: str) -> set[Any]:
        """Docks on which an object grant gives at least ``level`` in ``area``."""
        out: set[Any] = set()
        for perm, levels in GRANT_LEVELS.items():
            granted = lower(levels.get(area, Level.NONE), self._cap(area))
            if LEVEL_RANK[Level(granted)] >= LEVEL_RANK[Level(level)]:
                out |= self._granted(perm)
        return out


class TenantQuerySet(models.QuerySet):
    """Mixed into every tenant-owned model's manager.

    Models set ``dock_lookup`` (the path to their Dock's pk, or None) so
    that object grants on a dock reach the rows that belong to it.
    """

    def visible_to(self, actor: Actor, area: str, level: str = Level.READ) -> TenantQuerySet:
        org = actor.org
        if actor.is_system:
            return self if org is None else self.filter(org_id=org.pk)
        if org is None:
            return self.none()
        qs = self.filter(org_id=org.pk)
        if actor.allows(area, level):
            return qs
        lookup = getattr(self.model, "dock_lookup", None)
        if lookup is None:
            return qs.none()
        dock_ids = actor.granted_dock_ids(area, level)
        if not dock_ids:
            return qs.none()
        return qs.filter(**{f"{lookup}__in": dock_ids})

    def get_visible(self, actor: Actor, area: str, level: str = Level.READ, **lookup: Any) -> Any:
        """One visible object, or NotFound - the same for unknown and another org's."""
        try:
            return self.visible_to(actor, area, Level.READ if level == Level.FULL else level).get(
                **lookup
            )
        except (ObjectDoesNotExist, ValueError, TypeError):
            raise NotFound(f"{self.model._meta.verbose_name} not found.") from None


def require(actor: Actor, org: Organization | None, area: str, level: str, obj: Any = None) -> None:
    """Raise unless ``actor`` may act at ``level`` on ``area`` in ``org`` (on ``obj``).

    Call it before the write transaction starts: a denial is audited in its
    own transaction, so it survives the caller's rollback.
    """
    if area not in Area.values:
        raise ValueError(f"unknown area {area!r}")
    if org is None:
        raise NotFound()
    if actor.is_system:
        if actor.system_org is not None and actor.system_org.pk != org.pk:
            raise NotFound()
        return
    if actor.membership is None or actor.membership.org_id != org.pk:
        raise NotFound()
    if obj is not None and getattr(obj, "org_id", org.pk) != org.pk:
        raise NotFound()
    if actor.allows(area, level):
        return
    dock_id = _dock_id_of(obj)
    if dock_id is not None and dock_id in actor.granted_dock_ids(area, level):
        return
    _deny(actor, org, area, level, obj)


def _dock_id_of(obj: Any) -> Any:
    if obj is None:
        return None
    from docks.models import Dock

    if isinstance(obj, Dock):
        return obj.pk
    return getattr(obj, "dock_id", None)


def _deny(actor: Actor, org: Organization, area: str, level: str, obj: Any) -> None:
    from audit.services import audit_log

    audit_log(
        actor=actor,
        org=org,
        operation="permission.denied",
        status="denied",
        target=obj,
        metadata={"area": area, "level": level},
    )
    raise PermissionDenied(f"Your role does not allow {level} access to {area}.")


# --- rank: nobody acts beyond their own ---------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """What a member, role, token or grant holds: a level per area, the dock grants
    ``(dock id, perm)`` on top, and whether it is an owner (above every permission)."""

    permissions: Mapping[str, str]
    owner: bool = False
    grants: frozenset[tuple[Any, str]] = frozenset()


def standing_of(thing: Membership | Role | ApiToken | Standing | Mapping[str, str]) -> Standing:
    """The standing of a membership (its role and its dock grants), a role, a token
    (its membership's, narrowed by its scope), or a plain permission map."""
    if isinstance(thing, Standing):
        return thing
    if isinstance(thing, Role):
        return Standing(thing.levels(), owner=thing.is_owner)
    if isinstance(thing, ApiToken):
        actor = Actor.for_membership(thing.membership, token=thing)
        return Standing(actor.permissions, owner=actor.is_owner, grants=_grants_of(actor))
    if isinstance(thing, Membership):
        actor = Actor.for_membership(thing)
        return Standing(actor.permissions, owner=actor.is_owner, grants=_grants_of(actor))
    return Standing({area: thing.get(area, Level.NONE) for area in AREAS})


def _grants_of(actor: Actor) -> frozenset[tuple[Any, str]]:
    return frozenset((dock_id, perm) for perm in GRANT_LEVELS for dock_id in actor._granted(perm))


def rank_shortfall(actor: Actor, standing: Standing) -> str | None:
    """Why ``actor`` does not rank at or above ``standing``, or None when it does.

    Owner is above every other role: only an owner acts on an owner or makes one.
    Below that, rank is permission inclusion: the actor must hold, in every area,
    at least the standing's level, and every dock grant of the standing (role-wide
    or by a grant of its own on that dock)."""
    if actor.is_owner:
        return None
    if standing.owner:
        return "only an owner may act on an owner or make one"
    for area in AREAS:
        wanted = standing.permissions.get(area, Level.NONE)
        if not actor.allows(area, wanted):
            return f"{area}: {wanted} is above your own role ({actor.level(area)})"
    for dock_id, perm in sorted(standing.grants, key=str):
        for area, level in GRANT_LEVELS[perm].items():
            if not actor.allows(area, level) and dock_id not in actor.granted_dock_ids(area, level):
                return f"the {perm} grant on dock {dock_id} is above your own role"
    return None


def require_rank(
    actor: Actor,
    target: Membership | Role | ApiToken | None = None,
    *,
    new: Role | Standing | Mapping[str, str] | None = None,
) -> None:
    """Raise unless ``actor`` ranks at or above ``target`` (what it holds now) and at
    or above ``new`` (what the act would give: a role, a token's permissions, a grant).

    The one check every service that acts on a member, role, token or grant makes,
    after ``require`` for the area. A target of another organization is NotFound;
    a denial is audited (call it before the write transaction starts).
    """
    if target is not None and not (actor.is_system and actor.system_org is None):
        target_org_id = target.membership.org_id if isinstance(target, ApiToken) else target.org_id
        if actor.org is None or actor.org.pk != target_org_id:
            raise NotFound()
    for thing, what in ((target, "act on"), (new, "give")):
        if thing is None:
            continue
        reason = rank_shortfall(actor, standing_of(thing))
        if reason is not None:
            _deny_rank(actor, target, f"You cannot {what} that: {reason}.", reason)


def _deny_rank(actor: Actor, target: Any, message: str, reason: str) -> None:
    from audit.services import audit_log

    org = actor.org
    assert org is not None  # an actor without an organization acts on nothing
    audit_log(
        actor=actor,
        org=org,
        operation="permission.denied",
        status="denied",
        target=target,
        metadata={"rule": "rank", "reason": reason},
    )
    raise PermissionDenied(message)
