"""Credential encryption: AES-256-GCM with a versioned envelope and a keyring.

Envelope (ASCII, stored in a text column)::

    sd1.<key_id>.<base64url(nonce[12] || ciphertext || tag[16])>

- ``sd1`` is the format version.
- ``key_id`` names the key in the keyring that encrypted it.
- The associated data binds a ciphertext to its row and field
  (``docks.dock:<pk>:api_credentials``): copied to another dock or another
  field, it fails to decrypt.

The keyring comes from ``STACKDOCK_ENCRYPTION_KEYS``: a comma-separated list of
``id:base64key`` (32-byte keys). The first encrypts; all decrypt - so a new key
is added in front, ``manage.py rotate_encryption_key`` re-encrypts, and the old
key is removed afterwards.

Nothing here logs, and no error message ever contains plaintext or key bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT = "sd1"
NONCE_BYTES = 12
TAG_BYTES = 16
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class CryptoError(Exception):
    """Any failure to decrypt or to read the keyring; the message is safe to show."""


class KeyringError(CryptoError):
    pass


class DecryptionError(CryptoError):
    pass


@dataclass(frozen=True)
class Keyring:
    """Ordered keys: ``keys[0]`` encrypts, every key decrypts."""

    keys: tuple[tuple[str, bytes], ...]

    def __repr__(self) -> str:
        return f"Keyring(ids={[k for k, _ in self.keys]!r})"

    @classmethod
    def from_string(cls, spec: str) -> Keyring:
        entries = [e.strip() for e in (spec or "").split(",") if e.strip()]
        if not entries:
            raise KeyringError("STACKDOCK_ENCRYPTION_KEYS is empty")
        keys: list[tuple[str, bytes]] = []
        for position, entry in enumerate(entries, start=1):
            key_id, sep, b64 = entry.partition(":")
            if not sep or not _KEY_ID.match(key_id):
                raise KeyringError(
                    f"STACKDOCK_ENCRYPTION_KEYS entry {position}: expected id:base64key "
                    "with an id of letters, digits, - or _"
                )
            try:
                raw = base64.b64decode(b64, validate=True)
            except (binascii.Error, ValueError):
                raise KeyringError(
                    f"STACKDOCK_ENCRYPTION_KEYS key {key_id!r}: not valid base64"
                ) from None
            if len(raw) != 32:
                raise KeyringError(
                    f"STACKDOCK_ENCRYPTION_KEYS key {key_id!r}: must be 32 bytes, got {len(raw)}"
                )
            if any(k == key_id for k, _ in keys):
                raise KeyringError(f"STACKDOCK_ENCRYPTION_KEYS: key id {key_id!r} appears twice")
            keys.append((key_id, raw))
        return cls(tuple(keys))

    @property
    def active_id(self) -> str:
        return self.keys[0][0]

    def key(self, key_id: str) -> bytes:
        for kid, raw in self.keys:
            if kid == key_id:
                return raw
        raise DecryptionError(f"unknown encryption key id {key_id!r}: not in the keyring")

    def encrypt(self, plaintext: bytes, aad: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[0][1]).encrypt(nonce, plaintext, aad.encode())
        return f"{FORMAT}.{self.active_id}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, envelope: str, aad: str) -> bytes:
        version, key_id, body = parse_envelope(envelope)
        raw = self.key(key_id)
        try:
            blob = base64.urlsafe_b64decode(body.encode())
        except (binascii.Error, ValueError):
            raise DecryptionError("ciphertext is not valid base64") from None
        if len(blob) < NONCE_BYTES + TAG_BYTES:
            raise DecryptionError("ciphertext is too short")
        try:
            return AESGCM(raw).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad.encode())
        except InvalidTag:
            raise DecryptionError(
                "ciphertext failed authentication: tampered, moved to another field, "
                "or encrypted under a different key"
            ) from None

    def encrypt_json(self, value: Mapping[str, Any], aad: str) -> str:
        return self.encrypt(json.dumps(dict(value), sort_keys=True).encode(), aad)

    def decrypt_json(self, envelope: str, aad: str) -> dict[str, Any]:
        data = self.decrypt(envelope, aad)
        try:
            value = json.loads(data)
        except ValueError:
            raise DecryptionError("decrypted data is not JSON") from None
        if not isinstance(value, dict):
            raise DecryptionError("decrypted data is not an object")
        return value


def parse_envelope(envelope: str) -> tuple[str, str, str]:
    """Split an envelope into (version, key id, body) or raise DecryptionError."""
    if not isinstance(envelope, str):
        raise DecryptionError("ciphertext must be text")
    parts = envelope.split(".")
    if len(parts) != 3:
        raise DecryptionError("not a StackDock ciphertext envelope")
    version, key_id, body = parts
    if version != FORMAT:
        raise DecryptionError(f"unsupported ciphertext format {version[:8]!r}")
    if not _KEY_ID.match(key_id):
        raise DecryptionError("malformed key id in ciphertext envelope")
    return version, key_id, body


def envelope_key_id(envelope: str) -> str:
    return parse_envelope(envelope)[1]


_keyring: Keyring | None = None
_keyring_spec: str | None = None


def get_keyring() -> Keyring:
    """The keyring from settings (re-read when the setting changes, e.g. in tests)."""
    global _keyring, _keyring_spec
    from django.conf import settings

    spec = settings.STACKDOCK_ENCRYPTION_KEYS
    if _keyring is None or spec != _keyring_spec:
        _keyring, _keyring_spec = Keyring.from_string(spec), spec
    return _keyring


def field_aad(label: str, pk: Any, field: str) -> str:
    return f"stackdock:{label}:{pk}:{field}"
