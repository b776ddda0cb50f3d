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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import models

from stackdock.exceptions import NotFound, PermissionDenied
from stackdock.models import LEVEL_RANK, Area, Level, Membership, Organization

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from stackdock.models import ApiToken

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
        if self.is_system:
            return Level.FULL
        if self.membership is None:
            return Level.NONE
        return self.membership.role.level(area)

    def allows(self, area: str, level: str) -> bool:
        return LEVEL_RANK[Level(self.level(area))] >= LEVEL_RANK[Level(level)]

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
            granted = levels.get(area, Level.NONE)
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
