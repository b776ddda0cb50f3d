"""Writes on docks and the one place credentials are decrypted."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_log
from docks.crypto import envelope_key_id, field_aad, get_keyring
from docks.models import SECRET_FIELDS, Dock
from stackdock.exceptions import Conflict, ValidationError
from stackdock.models import Area, Level, Organization
from stackdock.permissions import Actor, require

CREDENTIAL_PURPOSES = ("validate", "sync", "provision", "rotate", "admin")


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
                metadata={"provider": provider, "credential_fields": dock.credential_fields},
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
            metadata={"credential_fields": locked.credential_fields},
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
    return [f for f in SECRET_FIELDS if getattr(dock, f) and envelope_key_id(getattr(dock, f)) != active]


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
        stale = [
            row[0]
            for row in rows
            if any(v and envelope_key_id(v) != active for v in row[1:])
        ]
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
