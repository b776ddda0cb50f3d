"""Tenancy and roles: Organization, Role, Membership, ApiToken.

Permissions are a map area -> level over a fixed set of areas. A missing area
is ``none``; ``full`` implies ``read``. Built-in roles are created with every
organization (see ``stackdock.services.org_create``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from stackdock.utils.models import TimeStampedModel


class Area(models.TextChoices):
    RESOURCES = "resources", "Resources"
    DOCKS = "docks", "Docks"
    PROVISIONING = "provisioning", "Provisioning"
    CREDENTIALS = "credentials", "Credentials"
    MEMBERS = "members", "Members"
    AUDIT = "audit", "Audit"
    SETTINGS = "settings", "Settings"


class Level(models.TextChoices):
    NONE = "none", "None"
    READ = "read", "Read"
    FULL = "full", "Full"


LEVEL_RANK = {Level.NONE: 0, Level.READ: 1, Level.FULL: 2}
AREAS: tuple[str, ...] = tuple(Area.values)
#: the built-in role above every other (see ``stackdock.permissions.require_rank``)
OWNER_ROLE = "owner"


def _all(level: Level) -> dict[str, str]:
    return {area: level.value for area in AREAS}


BUILTIN_ROLES: dict[str, dict[str, str]] = {
    "owner": _all(Level.FULL),
    "admin": _all(Level.FULL),
    "developer": {
        **_all(Level.NONE),
        Area.RESOURCES: Level.READ,
        Area.PROVISIONING: Level.READ,
    },
    "viewer": {
        **_all(Level.NONE),
        Area.RESOURCES: Level.READ,
        Area.DOCKS: Level.READ,
        Area.PROVISIONING: Level.READ,
    },
}


def normalize_permissions(raw: Any) -> dict[str, str]:
    """Validate a permissions map; raise ValueError naming the bad area or level."""
    if not isinstance(raw, dict):
        raise ValueError("permissions must be an object mapping area to level")
    out = _all(Level.NONE)
    for area, level in raw.items():
        if area not in AREAS:
            raise ValueError(f"unknown area {area!r}; valid: {', '.join(AREAS)}")
        if level not in Level.values:
            raise ValueError(f"{area}: unknown level {level!r}; valid: none, read, full")
        out[area] = level
    return out


class Organization(TimeStampedModel):
    slug = models.SlugField(max_length=63, unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Role(TimeStampedModel):
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="roles")
    name = models.CharField(max_length=63)
    permissions = models.JSONField(default=dict)
    builtin = models.BooleanField(default=False)

    class Meta:
        ordering = ["org", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "name"], name="%(app_label)s_%(class)s_unique_org_name"
            )
        ]

    def __str__(self) -> str:
        return f"{self.org.slug}/{self.name}"

    def level(self, area: str) -> str:
        level = (self.permissions or {}).get(area, Level.NONE)
        return level if level in LEVEL_RANK else Level.NONE

    def allows(self, area: str, level: str) -> bool:
        return LEVEL_RANK[Level(self.level(area))] >= LEVEL_RANK[Level(level)]

    @property
    def is_owner(self) -> bool:
        """The built-in owner role: above every other, whatever their permissions."""
        return self.builtin and self.name == OWNER_ROLE

    def levels(self) -> dict[str, str]:
        return {area: self.level(area) for area in AREAS}


class Membership(TimeStampedModel):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="memberships")

    class Meta:
        ordering = ["org", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "org"], name="%(app_label)s_%(class)s_unique_user_org"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user.get_username()} in {self.org.slug} as {self.role.name}"


TOKEN_PREFIX = "sdk"  # noqa: S105 - a public marker, not a secret


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(TimeStampedModel):
    """A bearer token for one membership. Only its SHA-256 is stored.

    The full token reads ``sdk_<prefix>_<secret>``; ``prefix`` is public and
    indexed so a lookup needs no scan; ``token_hash`` is the SHA-256 of the
    whole token.

    ``scope`` narrows the token: ``None`` acts with the membership's role as it
    is at each request; a map ``{area: level}`` caps every area at that level
    (the effective level is the lower of the role's and the scope's), and such a
    token never acts as an owner. A scope can only narrow, never widen.
    """

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    scope = models.JSONField(
        null=True,
        blank=True,
        help_text="Per-area cap on the membership's role; null: the role as it is.",
    )

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({TOKEN_PREFIX}_{self.prefix}_…)"

    def cap(self, area: str) -> str:
        """The highest level this token may use in ``area`` (its scope's, or full)."""
        if self.scope is None:
            return Level.FULL
        level = self.scope.get(area, Level.NONE)
        return level if level in LEVEL_RANK else Level.NONE

    @property
    def is_active(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


INVITATION_PREFIX = "sdi"  # a public marker of invitation secrets, not a secret


class Invitation(TimeStampedModel):
    """An offer to join an organization with a role, made to an email address.

    Single-use and expiring; only the SHA-256 of its secret is stored (the secret is
    in the link, shown once to the inviter and mailed to the address). Accepted by
    whoever signs in as that address (``stackdock.invitations``); the inviter never
    sets or learns a password.
    """

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="invitations")
    invited_by = models.ForeignKey(
        Membership, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    inviter_repr = models.CharField(max_length=255)
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["org", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="%(app_label)s_%(class)s_one_open_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.org.slug} as {self.role.name}"

    @property
    def status(self) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "withdrawn"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"
