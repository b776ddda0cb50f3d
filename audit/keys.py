"""The keys that sign the audit log (HMAC-SHA256), from ``STACKDOCK_AUDIT_KEYS``.

``id:base64key[,id:base64key...]`` (keys of at least 32 bytes): the first signs
new events, chain heads and lane records; every key listed verifies what it
signed (each signed row stores its key's id). The keys live in the settings
(the environment in production), never in the database: someone who can write
the database but does not hold a key cannot produce a hash ``audit_verify``
accepts. In dev and test the key is derived from ``SECRET_KEY`` (settings.py).

Nothing here logs, and no message ever contains key bytes.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SETTING = "STACKDOCK_AUDIT_KEYS"
MIN_KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class UnknownAuditKey(LookupError):
    """A row names a key id that is not in ``STACKDOCK_AUDIT_KEYS``."""


@dataclass(frozen=True)
class AuditKeys:
    """Ordered keys: ``keys[0]`` signs, every key verifies."""

    keys: tuple[tuple[str, bytes], ...]

    def __repr__(self) -> str:
        return f"AuditKeys(ids={[k for k, _ in self.keys]!r})"

    @property
    def signing_id(self) -> str:
        return self.keys[0][0]

    def sign(self, message: bytes, key_id: str | None = None) -> str:
        """HMAC-SHA256 of ``message`` under ``key_id`` (default: the signing key), in hex."""
        kid = key_id or self.signing_id
        for candidate, raw in self.keys:
            if candidate == kid:
                return hmac.new(raw, message, hashlib.sha256).hexdigest()
        raise UnknownAuditKey(f"audit key {kid!r} is not in {SETTING}")


def parse(spec: str) -> AuditKeys:
    """The keyring in ``spec``; ImproperlyConfigured naming the setting and the entry."""
    entries = [e.strip() for e in (spec or "").split(",") if e.strip()]
    if not entries:
        raise ImproperlyConfigured(f"{SETTING} is empty")
    keys: list[tuple[str, bytes]] = []
    for position, entry in enumerate(entries, start=1):
        key_id, sep, b64 = entry.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise ImproperlyConfigured(
                f"{SETTING} entry {position}: expected id:base64key with an id of "
                "1-32 letters, digits, - or _"
            )
        try:
            raw = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(f"{SETTING} key {key_id!r}: not valid base64") from None
        if len(raw) < MIN_KEY_BYTES:
            raise ImproperlyConfigured(
                f"{SETTING} key {key_id!r}: must be at least {MIN_KEY_BYTES} bytes, got {len(raw)}"
            )
        if any(k == key_id for k, _ in keys):
            raise ImproperlyConfigured(f"{SETTING}: key id {key_id!r} appears twice")
        keys.append((key_id, raw))
    return AuditKeys(tuple(keys))


@functools.lru_cache(maxsize=4)
def _parsed(spec: str) -> AuditKeys:
    return parse(spec)


def audit_keys() -> AuditKeys:
    """The configured keys (parsed once per distinct setting value)."""
    return _parsed(getattr(settings, SETTING, "") or "")


def derived_dev_keys(secret_key: str) -> str:
    """Dev and test only: a key derived from ``SECRET_KEY``, as ``STACKDOCK_AUDIT_KEYS``."""
    raw = hmac.new(secret_key.encode(), b"stackdock audit log key v1", hashlib.sha256).digest()
    return "dev:" + base64.b64encode(raw).decode()
