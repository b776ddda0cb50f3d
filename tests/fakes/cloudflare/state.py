"""The emulator's in-memory state: tokens, accounts, resources, faults, request log.

Every mutation happens under ``EmulatorState.lock``: the HTTP server answers
each request on its own thread.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Permission group names as Cloudflare spells them. "Write" implies "Read".
PERMISSION_SCOPES: dict[str, tuple[str, str]] = {
    "zone": ("Zone Read", "Zone Write"),
    "dns": ("DNS Read", "DNS Write"),
    "workers": ("Workers Scripts Read", "Workers Scripts Write"),
    "r2": ("Workers R2 Storage Read", "Workers R2 Storage Write"),
    "d1": ("D1 Read", "D1 Write"),
}
ALL_PERMISSIONS = frozenset(name for pair in PERMISSION_SCOPES.values() for name in pair)


def new_id() -> str:
    """A Cloudflare-style identifier: 32 lowercase hex characters."""
    return uuid.uuid4().hex


def now_iso() -> str:
    """An ISO 8601 UTC timestamp with microseconds, as the API writes them."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Token:
    """An API token the emulator accepts."""

    value: str
    account_id: str
    #: ``None`` grants every permission
    permissions: frozenset[str] | None = None
    status: str = "active"  # active | disabled | expired
    #: "user" tokens verify at /user/tokens/verify, "account" tokens at
    #: /accounts/{id}/tokens/verify
    owned_by: str = "user"
    id: str = field(default_factory=new_id)

    def __repr__(self) -> str:  # the value is a secret, even in a fake
        return f"Token(id={self.id!r}, account_id={self.account_id!r}, status={self.status!r})"

    def allows(self, scope: str | None, *, write: bool) -> bool:
        if scope is None or self.permissions is None:
            return True
        read_name, write_name = PERMISSION_SCOPES[scope]
        if write:
            return write_name in self.permissions
        return read_name in self.permissions or write_name in self.permissions


@dataclass
class Account:
    id: str
    name: str
    #: the account's workers.dev subdomain, or None when it has not registered one
    workers_subdomain: str | None
    initial_workers_subdomain: str | None = None


@dataclass
class Script:
    """A Workers script: its modules and the metadata the API reports."""

    name: str
    account_id: str
    main_module: str
    modules: dict[str, tuple[bytes, str]]  # filename -> (content, content type)
    compatibility_date: str | None
    compatibility_flags: list[str]
    tag: str
    etag: str
    created_on: str
    modified_on: str
    workers_dev: bool = False
    previews_enabled: bool = False


@dataclass
class Injection:
    """A fault to answer instead of the real handler, ``times`` times (None = always)."""

    pattern: re.Pattern[str]
    status: int
    times: int | None
    retry_after: float | None = None
    method: str | None = None
    code: int | None = None
    message: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.pattern.search(path) is not None


@dataclass(frozen=True)
class RecordedRequest:
    """One request the emulator answered (path relative to ``/client/v4``)."""

    method: str
    path: str
    query: str
    status: int


class EmulatorState:
    """Everything the emulator remembers. Guard every access with ``lock``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tokens: dict[str, Token] = {}
        self.accounts: dict[str, Account] = {}
        self.injections: list[Injection] = []
        self.requests: list[RecordedRequest] = []
        self.zones: dict[str, dict[str, Any]] = {}
        self.records: dict[str, dict[str, dict[str, Any]]] = {}
        self.scripts: dict[str, dict[str, Script]] = {}
        self.buckets: dict[str, dict[str, dict[str, Any]]] = {}
        self.databases: dict[str, dict[str, dict[str, Any]]] = {}

    # --- configuration ------------------------------------------------------
    def add_account(self, account_id: str, *, name: str | None = None) -> Account:
        """The account, created (with a workers.dev subdomain) if it is new."""
        with self.lock:
            account = self.accounts.get(account_id)
            if account is None:
                subdomain = f"acct-{account_id[:8]}"
                account = Account(
                    id=account_id,
                    name=name or f"Account {account_id[:8]}",
                    workers_subdomain=subdomain,
                    initial_workers_subdomain=subdomain,
                )
                self.accounts[account_id] = account
            elif name:
                account.name = name
            return account

    def set_workers_subdomain(self, account_id: str, subdomain: str | None) -> None:
        """Register (or, with None, remove) the account's workers.dev subdomain."""
        with self.lock:
            self.add_account(account_id).workers_subdomain = subdomain

    def add_token(
        self,
        token: str,
        account_id: str,
        *,
        permissions: set[str] | frozenset[str] | list[str] | tuple[str, ...] | None = None,
        status: str = "active",
        owned_by: str = "user",
    ) -> Token:
        if permissions is not None:
            unknown = set(permissions) - ALL_PERMISSIONS
            if unknown:
                raise ValueError(f"unknown permission names: {sorted(unknown)}")
        if status not in {"active", "disabled", "expired"}:
            raise ValueError(f"unknown token status {status!r}")
        if owned_by not in {"user", "account"}:
            raise ValueError(f"owned_by must be 'user' or 'account', not {owned_by!r}")
        with self.lock:
            self.add_account(account_id)
            entry = Token(
                value=token,
                account_id=account_id,
                permissions=frozenset(permissions) if permissions is not None else None,
                status=status,
                owned_by=owned_by,
            )
            self.tokens[token] = entry
            return entry

    def inject(
        self,
        path_regex: str,
        *,
        status: int = 429,
        times: int | None = 1,
        retry_after: float | None = None,
        method: str | None = None,
        code: int | None = None,
        message: str | None = None,
    ) -> Injection:
        injection = Injection(
            pattern=re.compile(path_regex),
            status=status,
            times=times,
            retry_after=retry_after,
            method=method,
            code=code,
            message=message,
        )
        with self.lock:
            self.injections.append(injection)
        return injection

    def take_injection(self, method: str, path: str) -> Injection | None:
        """The first pending fault for this request, consuming one of its uses."""
        with self.lock:
            for injection in self.injections:
                if injection.matches(method, path):
                    if injection.times is not None:
                        injection.times -= 1
                        if injection.times <= 0:
                            self.injections.remove(injection)
                    return injection
        return None

    def reset(self) -> None:
        """Forget every resource, fault and logged request; keep tokens and accounts."""
        with self.lock:
            self.injections.clear()
            self.requests.clear()
            self.zones.clear()
            self.records.clear()
            self.scripts.clear()
            self.buckets.clear()
            self.databases.clear()
            for account in self.accounts.values():
                account.workers_subdomain = account.initial_workers_subdomain

    def clear_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()
