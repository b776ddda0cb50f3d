"""Writes on docks and the one place credentials are decrypted."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_log
from docks.crypto import envelope_key_id, field_aad, get_keyring
from docks.destination import checked_for_new_endpoint, credentials_check, endpoint_allowed
from docks.models import SECRET_FIELDS, Dock
from stackdock.exceptions import Conflict, NotFound, ValidationError
from stackdock.models import Area, Level, Organization
from stackdock.permissions import Actor, Standing, require, require_rank

CREDENTIAL_PURPOSES = ("validate", "sync", "provision", "import", "rotate", "admin")


def _aad(dock: Dock, field: str) -> str:
    return field_aad(Dock._meta.label_lower, dock.pk, field)


def _seal(dock: Dock, field: str, value: Mapping[str, Any] | None) -> str:
    if not value:
        return ""
    return get_keyring().encrypt_json(value, _aad(dock, field))


def _set_credentials(
    dock: Dock,
    credentials: Mapping[str, Any] | None,
    provisioning_credentials: Mapping[str, Any] | None,
) -> None:
    """Encrypt into the row; ``None`` keeps what is stored, ``{}`` clears it."""
    fields = set(dock.credential_fields or [])
    if credentials is not None:
        dock.api_credentials = _seal(dock, "api_credentials", credentials)
        fields = set(credentials)
    if provisioning_credentials is not None:
        dock.provisioning_credentials = _seal(
            dock, "provisioning_credentials", provisioning_credentials
        )
        fields |= set(provisioning_credentials)
    dock.credential_fields = sorted(fields)
    dock.credentials_changed_at = timezone.now()
    if credentials is not None:
        dock.defaults = _dock_defaults(dock.provider, credentials)


def _dock_defaults(provider: str, credentials: Mapping[str, Any]) -> dict[str, Any]:
    from provisioning.engine.errors import SpecError
    from provisioning.registry import get_registry

    try:
        adapter_class = get_registry().adapter_class(provider)
    except SpecError:
        return {}
    return adapter_class.dock_defaults(credentials)


def dock_create(
    *,
    actor: Actor,
    org: Organization,
    name: str,
    provider: str,
    credentials: Mapping[str, Any] | None = None,
    provisioning_credentials: Mapping[str, Any] | None = None,
    endpoint_url: str = "",
    emulated: bool = False,
) -> Dock:
    """Create a dock with encrypted credentials. The caller validated them with the provider."""
    require(actor, org, Area.DOCKS, Level.FULL)
    require(actor, org, Area.CREDENTIALS, Level.FULL)
    endpoint_allowed(endpoint_url)
    dock = Dock(org=org, name=name.strip(), provider=provider, endpoint_url=endpoint_url or "")
    dock.emulated = emulated
    _set_credentials(dock, credentials, provisioning_credentials)
    try:
        dock.full_clean()
    except Exception as exc:  # django ValidationError
        fields = getattr(exc, "message_dict", {"dock": [str(exc)]})
        raise ValidationError("Invalid dock.", fields=fields) from None
    try:
        with transaction.atomic():
            dock.save(force_insert=True)
            audit_log(
                actor=actor,
                org=org,
                operation="dock.create",
                target=dock,
                metadata={"provider": provider, "fields_set": dock.credential_fields},
            )
    except IntegrityError:
        raise Conflict(
            f"A dock named {name!r} already exists.", fields={"name": ["already exists"]}
        ) from None
    return dock


def dock_set_credentials(
    *,
    actor: Actor,
    dock: Dock,
    credentials: Mapping[str, Any] | None,
    provisioning_credentials: Mapping[str, Any] | None = None,
) -> Dock:
    """Replace a dock's credentials outright (admin form). Rotation with a grace window is
    ``credentials_rotate``."""
    require(actor, dock.org, Area.CREDENTIALS, Level.FULL, obj=dock)
    with transaction.atomic():
        locked = Dock.objects.select_for_update().get(pk=dock.pk)
        _set_credentials(locked, credentials, provisioning_credentials)
        locked.save()
        audit_log(
            actor=actor,
            org=locked.org,
            operation="credential.replace",
            target=locked,
            metadata={"fields_set": locked.credential_fields},
        )
    return locked


def dock_credentials(
    *, dock: Dock, actor: Actor, purpose: str, which: str = "provisioning"
) -> dict[str, Any]:
    """Decrypt a dock's credentials for one provider call. Every call is audited.

    ``which`` is ``provisioning`` (falls back to the API credentials when no
    separate provisioning credentials are set) or ``api``.
    """
    if purpose not in CREDENTIAL_PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    field = "api_credentials"
    if which == "provisioning" and dock.provisioning_credentials:
        field = "provisioning_credentials"
    envelope = getattr(dock, field)
    audit_log(
        actor=actor,
        org=dock.org,
        operation="credential.decrypt",
        target=dock,
        metadata={"purpose": purpose, "field": field},
    )
    if not envelope:
        return {}
    return get_keyring().decrypt_json(envelope, _aad(dock, field))


def _stale_fields(dock: Dock, active: str) -> list[str]:
    return [
        f for f in SECRET_FIELDS if getattr(dock, f) and envelope_key_id(getattr(dock, f)) != active
    ]


def docks_needing_reencryption(batch_size: int = 100) -> Iterator[list[Any]]:
    """Batches of dock ids with any secret not under the active key."""
    active = get_keyring().active_id
    last = None
    while True:
        qs = Dock.objects.order_by("pk")
        if last is not None:
            qs = qs.filter(pk__gt=last)
        rows = list(qs.values_list("pk", *SECRET_FIELDS)[:batch_size])
        if not rows:
            return
        last = rows[-1][0]
        stale = [row[0] for row in rows if any(v and envelope_key_id(v) != active for v in row[1:])]
        if stale:
            yield stale


def dock_reencrypt(*, dock_id: Any) -> int:
    """Re-encrypt one dock's secrets under the active key; returns the fields changed.

    Runs under a row lock so a concurrent credential change is never lost;
    safe to run again (fields already under the active key are skipped).
    """
    keyring = get_keyring()
    with transaction.atomic():
        dock = Dock.objects.select_for_update().filter(pk=dock_id).first()
        if dock is None:
            return 0
        fields = _stale_fields(dock, keyring.active_id)
        for field in fields:
            plain = keyring.decrypt(getattr(dock, field), _aad(dock, field))
            setattr(dock, field, keyring.encrypt(plain, _aad(dock, field)))
        if fields:
            Dock.objects.filter(pk=dock.pk).update(**{f: getattr(dock, f) for f in fields})
            audit_log(
                actor=Actor.system("rotate_encryption_key"),
                org=dock.org,
                operation="credential.reencrypt",
                target=dock,
                metadata={"fields": fields, "active_key_id": keyring.active_id},
            )
    return len(fields)


def erase_expired_previous_credentials(*, now: Any = None) -> int:
    """Erase previous provisioning credentials whose grace window has ended."""
    now = now or timezone.now()
    erased = 0
    for dock in Dock.objects.filter(previous_credentials_expire_at__lte=now).select_related("org"):
        with transaction.atomic():
            updated = Dock.objects.filter(
                pk=dock.pk, previous_credentials_expire_at__lte=now
            ).update(previous_provisioning_credentials="", previous_credentials_expire_at=None)
            if updated:
                erased += 1
                audit_log(
                    actor=Actor.system("credential-grace"),
                    org=dock.org,
                    operation="credential.erase_previous",
                    target=dock,
                )
    return erased


# --- provider-facing writes (checks: docks/destination.py) ------------------------------


def dock_connect(
    *,
    actor: Actor,
    org: Organization,
    name: str,
    provider: str,
    credentials: Mapping[str, Any] | None = None,
    provisioning_credentials: Mapping[str, Any] | None = None,
    endpoint_url: str = "",
    emulated: bool = False,
) -> Dock:
    """Create a dock after checking its credentials live with the provider.

    ``emulated`` labels a dock whose endpoint is a local emulator (moto, LocalStack...)."""
    require(actor, org, Area.DOCKS, Level.FULL)
    require(actor, org, Area.CREDENTIALS, Level.FULL)
    clean = credentials_check(provider=provider, credentials=credentials, endpoint_url=endpoint_url)
    prov = None
    if provisioning_credentials:
        prov = credentials_check(
            provider=provider, credentials=provisioning_credentials, endpoint_url=endpoint_url
        )
    return dock_create(
        actor=actor,
        org=org,
        name=name,
        provider=provider,
        credentials=clean,
        provisioning_credentials=prov,
        endpoint_url=endpoint_url,
        emulated=emulated,
    )


def dock_update(
    *,
    actor: Actor,
    dock: Dock,
    name: str | None = None,
    endpoint_url: str | None = None,
    sync_interval_seconds: int | None = None,
    credentials: Mapping[str, Any] | None = None,
    provisioning_credentials: Mapping[str, Any] | None = None,
) -> Dock:
    """Rename a dock, change its sync interval, or move it to a new endpoint.

    Where a dock's credentials go is part of the credentials: a new
    ``endpoint_url`` (blank included: the provider's own endpoint) is
    ``_destination``'s - it needs ``credentials: full`` and the credentials
    entered again in the same call. ``credentials`` without a new endpoint are
    refused: replacing credentials is ``credentials_rotate``.
    """
    require(actor, dock.org, Area.DOCKS, Level.FULL, obj=dock)
    changed: dict[str, Any] = {}
    if name is not None and name.strip() != dock.name:
        changed["name"] = name.strip()
    if sync_interval_seconds is not None:
        if sync_interval_seconds < 60:
            raise ValidationError(
                "The sync interval is at least 60 seconds.",
                fields={"sync_interval_seconds": ["minimum 60"]},
            )
        changed["sync_interval_seconds"] = sync_interval_seconds
    moving = endpoint_url is not None and endpoint_url != dock.endpoint_url
    if not moving and (credentials is not None or provisioning_credentials is not None):
        raise ValidationError(
            "Credentials are taken here only with a new endpoint_url; "
            "to replace them, rotate them.",
            fields={"credentials": ["only with a new endpoint_url (else: rotate-credentials)"]},
        )
    destination = (
        _destination(actor, dock, str(endpoint_url), credentials, provisioning_credentials)
        if moving
        else {}
    )
    if not changed and not destination:
        return dock
    try:
        with transaction.atomic():
            _write_update(actor, dock, changed, destination)
    except IntegrityError:
        raise Conflict(
            "A dock with that name already exists.", fields={"name": ["already exists"]}
        ) from None
    dock.refresh_from_db()
    return dock


def _destination(
    actor: Actor,
    dock: Dock,
    endpoint_url: str,
    credentials: Mapping[str, Any] | None,
    provisioning_credentials: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The columns that move a dock to ``endpoint_url``: the endpoint and every credential,
    entered again and checked live there (``docks.destination``); the credentials a
    rotation kept for its grace window are erased."""
    clean, prov = checked_for_new_endpoint(
        actor=actor,
        dock=dock,
        endpoint_url=endpoint_url,
        credentials=credentials,
        provisioning_credentials=provisioning_credentials,
    )
    return {
        "endpoint_url": endpoint_url,
        "api_credentials": _seal(dock, "api_credentials", clean),
        "provisioning_credentials": _seal(dock, "provisioning_credentials", prov),
        "previous_provisioning_credentials": "",
        "previous_credentials_expire_at": None,
        "credential_fields": sorted(set(clean) | set(prov)),
        "credentials_changed_at": timezone.now(),
        "defaults": _dock_defaults(dock.provider, clean),
    }


def _write_update(
    actor: Actor, dock: Dock, changed: dict[str, Any], destination: dict[str, Any]
) -> None:
    """Inside the caller's transaction: the row update and its audit events."""
    if destination:
        locked = Dock.objects.select_for_update().get(pk=dock.pk)
        if (locked.endpoint_url, locked.credentials_changed_at) != (
            dock.endpoint_url,
            dock.credentials_changed_at,
        ):  # the credentials just checked were entered for what the caller saw
            raise Conflict("The dock's endpoint or credentials changed meanwhile; try again.")
    Dock.objects.filter(pk=dock.pk).update(**changed, **destination, updated_at=timezone.now())
    if changed:
        audit_log(
            actor=actor,
            org=dock.org,
            operation="dock.update",
            target=dock,
            metadata={"fields": sorted(changed)},
        )
    if destination:
        audit_log(
            actor=actor,
            org=dock.org,
            operation="dock.endpoint_change",
            target=dock,
            metadata={
                "from": dock.endpoint_url,
                "to": destination["endpoint_url"],
                "fields_set": destination["credential_fields"],
                "provisioning_credentials": bool(destination["provisioning_credentials"]),
                "checked": "live",
            },
        )


def dock_delete(*, actor: Actor, dock: Dock, orphan: bool = False) -> None:
    """Delete a dock. Refused while StackDock-provisioned resources live on it, unless
    ``orphan``: then they stay in the tables, detached from the dock."""
    from docks.models import UNIVERSAL_MODELS, ProvisioningSource

    require(actor, dock.org, Area.DOCKS, Level.FULL, obj=dock)
    managed = [ProvisioningSource.API, ProvisioningSource.SST]
    count = sum(
        m.objects.filter(dock=dock, provisioning_source__in=managed).count()
        for m in UNIVERSAL_MODELS.values()
    )
    if count and not orphan:
        raise Conflict(
            f"Dock {dock.name!r} still has {count} resource(s) provisioned by StackDock; "
            "destroy them first, or delete with orphan=true to keep them untracked."
        )
    with transaction.atomic():
        for model in UNIVERSAL_MODELS.values():
            model.objects.filter(dock=dock).exclude(provisioning_source__in=managed).delete()
        audit_log(
            actor=actor,
            org=dock.org,
            operation="dock.delete",
            target=dock,
            # the dock's grants die with it (their foreign key cascades): say which
            metadata={"orphaned": count, "grants_revoked": _described(dock.grants.all())},
        )
        dock.delete()


def credentials_rotate(
    *, actor: Actor, dock: Dock, credentials: Mapping[str, Any], grace_seconds: int = 3600
) -> Dock:
    """Swap a dock's provisioning credentials with no downtime.

    The new credentials are checked live first (nothing changes when they fail).
    Operations already running keep the credentials they decrypted when they
    started; the previous ones stay encrypted for ``grace_seconds`` and are then
    erased by a periodic task.
    """
    from datetime import timedelta

    require(actor, dock.org, Area.CREDENTIALS, Level.FULL, obj=dock)
    if not 0 <= grace_seconds <= 7 * 86400:
        raise ValidationError(
            "grace_seconds must be between 0 and 604800.",
            fields={"grace_seconds": ["between 0 and 604800"]},
        )
    clean = credentials_check(
        provider=dock.provider, credentials=credentials, endpoint_url=dock.endpoint_url
    )
    with transaction.atomic():
        locked = Dock.objects.select_for_update().get(pk=dock.pk)
        if locked.endpoint_url != dock.endpoint_url:  # checked against the old endpoint
            raise Conflict("The dock's endpoint changed meanwhile; try again.")
        field = "provisioning_credentials" if locked.provisioning_credentials else "api_credentials"
        previous = (
            get_keyring().decrypt(getattr(locked, field), _aad(locked, field))
            if getattr(locked, field)
            else b""
        )
        locked.previous_provisioning_credentials = (
            get_keyring().encrypt(previous, _aad(locked, "previous_provisioning_credentials"))
            if previous and grace_seconds
            else ""
        )
        locked.previous_credentials_expire_at = (
            timezone.now() + timedelta(seconds=grace_seconds)
            if previous and grace_seconds
            else None
        )
        setattr(locked, field, _seal(locked, field, clean))
        locked.credential_fields = sorted(set(locked.credential_fields or []) | set(clean))
        locked.credentials_changed_at = timezone.now()
        if field == "api_credentials":
            locked.defaults = _dock_defaults(locked.provider, clean)
        locked.save()
        audit_log(
            actor=actor,
            org=locked.org,
            operation="credential.rotate",
            target=locked,
            metadata={"field": field, "grace_seconds": grace_seconds, "fields_set": sorted(clean)},
        )
    return locked


# --- object grants on one dock (added for the dashboard's dock page) -------------------------

#: the django-guardian permissions a dock grant can give (see stackdock.permissions)
GRANT_PERMS = ("view_dock", "provision_dock")


def _check_grant(actor: Actor, dock: Dock, membership: Any, perm: str) -> None:
    """Giving or taking back a grant needs members and docks ``full``, a rank at or
    above the member's, and the grant itself held (role-wide or on this dock)."""
    if perm not in GRANT_PERMS:
        raise ValidationError(
            f"Unknown grant {perm!r}; valid: {', '.join(GRANT_PERMS)}.",
            fields={"perm": [f"one of {', '.join(GRANT_PERMS)}"]},
        )
    require(actor, dock.org, Area.MEMBERS, Level.FULL, obj=dock)
    require(actor, dock.org, Area.DOCKS, Level.FULL, obj=dock)
    if membership.org_id != dock.org_id:
        raise NotFound("Member not found.")
    require_rank(actor, membership, new=Standing({}, grants=frozenset({(dock.pk, perm)})))


def _described(grants: Any) -> list[dict[str, str]]:
    return [
        {
            "dock": str(g.content_object_id),
            "dock_name": g.content_object.name,
            "user": g.user.get_username(),
            "perm": g.permission.codename,
        }
        for g in grants.select_related("content_object", "user", "permission").order_by("pk")
    ]


def dock_grants_end_for(*, membership: Any) -> list[dict[str, str]]:
    """End every dock grant of ``membership`` (its user's grants on its organization's
    docks): grants die with the membership. Returns what was ended, for the caller's
    audit event; call it inside the caller's transaction, before the membership goes."""
    from docks.models import DockGrant

    grants = DockGrant.objects.filter(
        user_id=membership.user_id, content_object__org_id=membership.org_id
    )
    ended = _described(grants)
    grants.delete()
    return ended


def dock_grant(*, actor: Actor, dock: Dock, membership: Any, perm: str) -> None:
    """Give one member ``view_dock`` or ``provision_dock`` on one dock. Audited."""
    _grant_change(actor, dock, membership, perm, give=True)


def dock_grant_revoke(*, actor: Actor, dock: Dock, membership: Any, perm: str) -> None:
    """Take a grant back. Audited."""
    _grant_change(actor, dock, membership, perm, give=False)


def _grant_change(actor: Actor, dock: Dock, membership: Any, perm: str, *, give: bool) -> None:
    from guardian.shortcuts import assign_perm, remove_perm

    _check_grant(actor, dock, membership, perm)
    with transaction.atomic():
        (assign_perm if give else remove_perm)(f"docks.{perm}", membership.user, dock)
        audit_log(
            actor=actor,
            org=dock.org,
            operation="dock.grant" if give else "dock.grant_revoke",
            target=dock,
            metadata={"user": membership.user.get_username(), "perm": perm},
        )
