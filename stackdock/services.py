"""Writes on organizations, members, roles and API tokens. Each is audited."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_log
from stackdock.auth_cache import auth_changed
from stackdock.exceptions import Conflict, NotFound, PermissionDenied, ValidationError
from stackdock.models import (
    BUILTIN_ROLES,
    OWNER_ROLE,
    TOKEN_PREFIX,
    ApiToken,
    Area,
    Level,
    Membership,
    Organization,
    Role,
    hash_token,
    normalize_permissions,
)
from stackdock.permissions import Actor, Standing, covers, meet, require, require_rank

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
User = get_user_model()


def clean_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationError(
            f"{email!r} is not a valid email address.", fields={"email": ["not a valid email"]}
        ) from None
    return email


def user_get_or_create(*, email: str, password: str | None = None) -> tuple[Any, bool]:
    """The user whose username is ``email``; created (with ``password``) if missing."""
    email = clean_email(email)
    user = User.objects.filter(username=email).first()
    if user is not None:
        return user, False
    user = User(username=email, email=email)
    if password:
        try:
            validate_password(password, user)
        except DjangoValidationError as exc:
            raise ValidationError(
                "Password rejected: " + " ".join(exc.messages), fields={"password": exc.messages}
            ) from None
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user, True


def org_create(
    *,
    slug: str,
    name: str | None = None,
    owner_email: str,
    password: str | None = None,
    actor: Actor | None = None,
) -> tuple[Organization, Membership]:
    """Create an organization, its built-in roles and its owner's membership."""
    slug = (slug or "").strip().lower()
    if not _SLUG.match(slug):
        raise ValidationError(
            f"{slug!r} is not a valid organization slug: use 1-63 lowercase letters, digits "
            "or hyphens, starting with a letter or digit.",
            fields={"slug": ["invalid slug"]},
        )
    with transaction.atomic():
        if Organization.objects.filter(slug=slug).exists():
            raise Conflict(f"Organization {slug!r} already exists.", fields={"slug": ["taken"]})
        user, created = user_get_or_create(email=owner_email, password=password)
        org = Organization.objects.create(slug=slug, name=name or slug)
        roles = {
            role_name: Role.objects.create(org=org, name=role_name, permissions=perms, builtin=True)
            for role_name, perms in BUILTIN_ROLES.items()
        }
        membership = Membership.objects.create(user=user, org=org, role=roles["owner"])
        acting = actor or Actor.system("create_org", org)
        audit_log(
            actor=acting,
            org=org,
            operation="org.create",
            target=org,
            metadata={"owner": user.get_username(), "user_created": created},
        )
        audit_log(
            actor=acting,
            org=org,
            operation="member.add",
            target=membership,
            metadata={"user": user.get_username(), "role": "owner"},
        )
    return org, membership


def role_get(*, org: Organization, name: str) -> Role:
    role = Role.objects.filter(org=org, name=name).first()
    if role is None:
        valid = ", ".join(Role.objects.filter(org=org).values_list("name", flat=True))
        raise ValidationError(
            f"Unknown role {name!r}; valid: {valid}.", fields={"role": ["unknown role"]}
        )
    return role


def member_add(
    *, actor: Actor, org: Organization, email: str, role_name: str, password: str | None = None
) -> Membership:
    """The operator's way in (``manage.py add_member``): the user is created if missing,
    with ``password``, or an existing one is attached. Only the system may do this - the
    shell is the operator's authority; members invite (``stackdock.invitations``)."""
    if not actor.is_system:
        raise PermissionDenied(
            "Members are added by invitation: the invitee accepts with their own account."
        )
    require(actor, org, Area.MEMBERS, Level.FULL)
    role = role_get(org=org, name=role_name)
    require_rank(actor, new=role)
    with transaction.atomic():
        user, created = user_get_or_create(email=email, password=password)
        try:
            with transaction.atomic():
                membership = Membership.objects.create(user=user, org=org, role=role)
        except IntegrityError:
            raise Conflict(
                f"{user.get_username()} is already a member of {org.slug}.",
                fields={"user": ["already a member"]},
            ) from None
        audit_log(
            actor=actor,
            org=org,
            operation="member.add",
            target=membership,
            metadata={"user": user.get_username(), "role": role.name, "user_created": created},
        )
    return membership


def member_change_role(*, actor: Actor, membership: Membership, role_name: str) -> Membership:
    org = membership.org
    require(actor, org, Area.MEMBERS, Level.FULL, obj=membership)
    role = role_get(org=org, name=role_name)
    require_rank(actor, membership, new=role)
    with transaction.atomic():
        old = membership.role.name
        _ensure_an_owner_remains(org, membership, role)
        membership.role = role
        membership.save(update_fields=["role", "updated_at"])
        audit_log(
            actor=actor,
            org=org,
            operation="member.change",
            target=membership,
            metadata={"from_role": old, "to_role": role.name},
        )
    return membership


def member_remove(*, actor: Actor, membership: Membership) -> None:
    org = membership.org
    require(actor, org, Area.MEMBERS, Level.FULL, obj=membership)
    require_rank(actor, membership)
    with transaction.atomic():
        _ensure_an_owner_remains(org, membership, None)
        membership_delete(actor=actor, membership=membership)


def membership_delete(*, actor: Actor, membership: Membership) -> None:
    """Delete a membership with its dock grants (grants die with the membership), audited
    with the grants it ended. The caller checked authority and holds a transaction;
    ``member_remove`` and Django admin's delete come here."""
    from docks.services import dock_grants_end_for

    ended = dock_grants_end_for(membership=membership)
    audit_log(
        actor=actor,
        org=membership.org,
        operation="member.remove",
        target=membership,
        metadata={"user": membership.user.get_username(), "grants_revoked": ended},
    )
    membership.delete()


def _ensure_an_owner_remains(
    org: Organization, membership: Membership, new_role: Role | None
) -> None:
    if not membership.role.is_owner or (new_role is not None and new_role.is_owner):
        return
    owners = Membership.objects.filter(org=org, role__name=OWNER_ROLE, role__builtin=True).exclude(
        pk=membership.pk
    )
    if not owners.exists():
        raise Conflict("An organization must keep at least one owner.")


def role_create(*, actor: Actor, org: Organization, name: str, permissions: Any) -> Role:
    require(actor, org, Area.MEMBERS, Level.FULL)
    try:
        perms = normalize_permissions(permissions)
    except ValueError as exc:
        raise ValidationError(str(exc), fields={"permissions": [str(exc)]}) from None
    require_rank(actor, new=perms)
    with transaction.atomic():
        try:
            with transaction.atomic():
                role = Role.objects.create(org=org, name=name.strip(), permissions=perms)
        except IntegrityError:
            raise Conflict(f"Role {name!r} already exists.", fields={"name": ["taken"]}) from None
        audit_log(
            actor=actor,
            org=org,
            operation="role.create",
            target=role,
            metadata={"permissions": perms},
        )
    return role


def role_change(*, actor: Actor, role: Role, permissions: Any) -> Role:
    require(actor, role.org, Area.MEMBERS, Level.FULL, obj=role)
    if role.builtin:
        raise Conflict(f"Built-in role {role.name!r} cannot be changed; create a custom role.")
    try:
        perms = normalize_permissions(permissions)
    except ValueError as exc:
        raise ValidationError(str(exc), fields={"permissions": [str(exc)]}) from None
    require_rank(actor, role, new=perms)
    with transaction.atomic():
        old = dict(role.permissions)
        role.permissions = perms
        role.save(update_fields=["permissions", "updated_at"])
        audit_log(
            actor=actor,
            org=role.org,
            operation="role.change",
            target=role,
            metadata={"from": old, "to": perms},
        )
    return role


def role_delete(*, actor: Actor, role: Role) -> None:
    require(actor, role.org, Area.MEMBERS, Level.FULL, obj=role)
    require_rank(actor, role)
    if role.builtin:
        raise Conflict(f"Built-in role {role.name!r} cannot be deleted.")
    if role.memberships.exists():
        raise Conflict(f"Role {role.name!r} is still assigned to members.")
    if role.invitations.filter(accepted_at__isnull=True, revoked_at__isnull=True).exists():
        raise Conflict(f"Role {role.name!r} is offered by open invitations: withdraw them first.")
    with transaction.atomic():
        audit_log(actor=actor, org=role.org, operation="role.delete", target=role)
        role.delete()


def token_create(
    *,
    actor: Actor,
    membership: Membership,
    name: str = "",
    expires_days: int | None = None,
    role_name: str | None = None,
    read_only: bool = False,
) -> tuple[ApiToken, str]:
    """Create a token for ``membership``; returns it and the secret, shown once.

    A member may create tokens for themselves; creating one for someone else
    needs ``members: full`` and a rank at or above that member's, and the token
    is then pinned to what that member holds now (``scope``): it never grows
    with a later promotion. ``role_name`` narrows the token to a role at or below
    the member's, ``read_only`` to read; a token made by a narrowed token is
    narrowed as far. A token never carries more than its creator holds.
    """
    org = membership.org
    own = actor.membership is not None and actor.membership.pk == membership.pk
    if not own:
        require(actor, org, Area.MEMBERS, Level.FULL, obj=membership)
        require_rank(actor, membership)
    if expires_days is not None and not (1 <= expires_days <= 3650):
        raise ValidationError(
            "expires_days must be between 1 and 3650.", fields={"expires_days": ["out of range"]}
        )
    scope = _token_scope(actor, membership, own=own, role_name=role_name, read_only=read_only)
    base = membership.role.levels()
    require_rank(
        actor,
        new=Standing(
            base if scope is None else meet(base, scope),
            owner=scope is None and membership.role.is_owner,
        ),
    )
    prefix = secrets.token_hex(4)
    secret = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
    with transaction.atomic():
        token = ApiToken.objects.create(
            membership=membership,
            name=(name or "token").strip()[:100],
            prefix=prefix,
            token_hash=hash_token(secret),
            expires_at=expires_at,
            scope=scope,
        )
        audit_log(
            actor=actor,
            org=org,
            operation="token.create",
            target=token,
            metadata={
                "name": token.name,
                "for": membership.user.get_username(),
                "expires_at": expires_at,
                "scope": scope,
            },
        )
    return token, secret


def _token_scope(
    actor: Actor, membership: Membership, *, own: bool, role_name: str | None, read_only: bool
) -> dict[str, str] | None:
    """The cap of a new token (None: the membership's role as it is at each request)."""
    base = membership.role.levels()
    scope: dict[str, str] | None = None
    if role_name:
        role = role_get(org=membership.org, name=role_name)
        if not covers(base, role.levels()) or (role.is_owner and not membership.role.is_owner):
            raise ValidationError(
                f"A token can be narrowed to a role at or below the member's "
                f"({membership.role.name}), never widened; {role.name!r} is not.",
                fields={"role": ["above the member's role"]},
            )
        scope = role.levels()
    if read_only:
        scope = meet(scope or base, dict.fromkeys(base, Level.READ))
    narrowed_actor = actor.token is not None and actor.token.scope is not None
    if not actor.is_system and (not own or narrowed_actor):
        scope = meet(scope or base, actor.permissions)
    return scope


def token_revoke(*, actor: Actor, token: ApiToken) -> ApiToken:
    membership = token.membership
    if actor.membership is None or actor.membership.pk != membership.pk:
        require(actor, membership.org, Area.MEMBERS, Level.FULL, obj=membership)
        require_rank(actor, membership)
    with transaction.atomic():
        updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if not updated:
            raise Conflict("Token is already revoked.")
        auth_changed()  # an UPDATE sends no post_save: tell the token caches here
        token.refresh_from_db()
        audit_log(actor=actor, org=membership.org, operation="token.revoke", target=token)
    return token


def token_authenticate(secret: str) -> ApiToken | None:
    """The active token matching ``secret``, or None. Records its last use."""
    parts = (secret or "").split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    token = (
        ApiToken.objects.active()
        .select_related("membership__user", "membership__org", "membership__role")
        .filter(prefix=parts[1])
        .first()
    )
    if token is None or not secrets.compare_digest(token.token_hash, hash_token(secret)):
        return None
    if not token.membership.user.is_active:  # a disabled user's tokens stop working too
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def membership_for(*, org_slug: str, email: str) -> Membership:
    membership = (
        Membership.objects.select_related("org", "user", "role")
        .filter(org__slug=org_slug, user__username=email.strip().lower())
        .first()
    )
    if membership is None:
        raise NotFound(f"{email} is not a member of organization {org_slug!r}.")
    return membership
