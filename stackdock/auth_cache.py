"""The verified-token cache of the bearer authentication (stackdock.authentication).

Looking a token up costs a four-table query on every API request. Each web
process therefore keeps the tokens it verified (``VerifiedTokens``): the
token's SHA-256 and a pickled copy of the token with its membership, user,
organization and role. A cached token is used only while

- the secret presented hashes to the cached hash (a wrong secret never matches),
- it has not expired (checked on every request),
- the **authentication epoch** is the one it was cached under, and
- it is younger than ``STACKDOCK_TOKEN_CACHE_SECONDS`` (default 30; 0 turns
  the cache off).

The epoch is a value in the shared cache (Redis in production) that changes
after every committed change to a token, membership, role, organization or
user (``auth_changed``, connected to their ``post_save``/``post_delete`` in
``StackdockConfig.ready`` so Django admin's own forms are covered too, and
called by ``token_revoke``, whose UPDATE sends no signal). The API view reads
it in the same round trip as the rate-limit counters, so a revoked token, a
removed member or a changed role takes effect on the next request in every
process; the age limit only bounds changes made behind Django's back (SQL by
hand). Each request unpickles its own copy, so no two requests share a
model instance.
"""

from __future__ import annotations

import pickle  # noqa: S403 - only ever loads what this process pickled itself
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from stackdock.models import TOKEN_PREFIX, ApiToken, hash_token

#: the cache key of the authentication epoch
AUTH_EPOCH_KEY = "stackdock:auth-epoch"


@dataclass(frozen=True)
class _Entry:
    token_hash: str
    token_pk: int
    pickled: bytes
    expires_at: datetime | None
    epoch: Any
    cached_at: float


class VerifiedTokens:
    """Tokens this process verified, by public prefix (bounded; see the module doc)."""

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def candidate(self, secret: str) -> _Entry | None:
        """The cached entry for ``secret`` if its hash matches and it is young and unexpired
        (``get`` checks the epoch, once it has been read)."""
        max_age = settings.STACKDOCK_TOKEN_CACHE_SECONDS
        prefix = _prefix(secret)
        entry = self._entries.get(prefix) if prefix and max_age > 0 else None
        if entry is None:
            return None
        if (
            time.monotonic() - entry.cached_at >= max_age
            or (entry.expires_at is not None and entry.expires_at <= timezone.now())
            or not secrets.compare_digest(entry.token_hash, hash_token(secret))
        ):
            return None
        return entry

    def get(self, entry: _Entry, epoch: Any) -> ApiToken | None:
        if entry.epoch != epoch:
            return None
        token: ApiToken = pickle.loads(entry.pickled)  # noqa: S301 - pickled by put() below
        return token

    def put(self, token: ApiToken, epoch: Any) -> None:
        if settings.STACKDOCK_TOKEN_CACHE_SECONDS <= 0:
            return
        entry = _Entry(
            token_hash=token.token_hash,
            token_pk=token.pk,
            pickled=pickle.dumps(token, protocol=pickle.HIGHEST_PROTOCOL),
            expires_at=token.expires_at,
            epoch=epoch,
            cached_at=time.monotonic(),
        )
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[token.prefix] = entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


verified_tokens = VerifiedTokens()


@dataclass(frozen=True)
class Presented:
    """What the view learnt before authentication: the epoch, and the cached entry that
    matches the presented secret (if any)."""

    epoch: Any
    entry: _Entry | None


def _prefix(secret: str) -> str:
    parts = secret.split("_", 2)
    return parts[1] if len(parts) == 3 and parts[0] == TOKEN_PREFIX else ""


def _bump_epoch() -> None:
    verified_tokens.clear()
    cache.set(AUTH_EPOCH_KEY, uuid.uuid4().hex, timeout=None)


#: columns whose change does not affect authentication (a login's ``last_login``)
_BOOKKEEPING = frozenset({"last_login", "last_used_at", "updated_at"})


def auth_changed(update_fields: Any = None, **_: Any) -> None:
    """Something a token's authentication depends on changed: once the transaction
    commits, every process stops using the tokens it cached. (A receiver of
    ``post_save``/``post_delete``; ``update_fields`` comes with a ``save()``.)"""
    if update_fields and frozenset(update_fields) <= _BOOKKEEPING:
        return
    verified_tokens.clear()
    transaction.on_commit(_bump_epoch)
